"""Deployment: the library under `python -m kerasapps.export` and `predict`.

    convert.py       Keras -> SavedModel and .tflite per variant, unrolled recurrent twins, op lists
    interpreter.py   LiteModel: a .tflite file in the LiteRT interpreter; latency
    bundle.py        export_run(run): every file of an export, checked, staged and moved into place
    classify.py      classify(source, inputs): raw images or texts through a run or a .tflite file

Deploy never imports the trainer: a run is read back from its folder.
"""

from kerasapps.deploy.bundle import export_run
from kerasapps.deploy.classify import classify
