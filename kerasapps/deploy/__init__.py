"""Deployment: the library under `kerasapps export` and `predict`.

    app_graph.py     the graph a phone feeds: RGB pixels in (gray, padding, scaling inside), a score per class out
    convert.py       Keras -> SavedModel and .tflite per variant, recurrent twins (fused or unrolled), op lists
    fused_lstm.py    LSTM layers as LiteRT's fused UNIDIRECTIONAL_SEQUENCE_LSTM op (a tf.function it recognises)
    metadata.py      TFLite metadata: write (labels, normalization, regex tokenizer) and read it back
    c_array.py       the int8 file as model_data.cc/.h for TensorFlow Lite Micro, with its arena size (measured or planned)
    interpreter.py   LiteModel: a .tflite file in the LiteRT interpreter; latency
    bundle.py        export_run(run): every file of an export, checked, staged and moved into place
    classify.py      classify(source, inputs): raw images or texts through a run or a .tflite file alone

Deploy never imports the trainer: a run is read back from its folder.
"""

from kerasapps.deploy.bundle import export_run
from kerasapps.deploy.classify import classify
