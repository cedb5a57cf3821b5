"""TensorFlow and PyTorch measured on the same networks: the library behind `kerasapps compare`.

    run.compare_experiment    the parent: data once, one worker process per side, the report
    worker                    one side in its own process (Keras's backend is chosen per process)
    keras_side                the Keras rows (TensorFlow, the torch backend) and LiteRT
    torch_side                the native PyTorch rows and ExecuTorch
    torch_twins               the PyTorch twins of LeNet-5, the LSTM and ResNet-20, and copy_keras_weights
    notes                     the course notes' PyTorch code, run
    report                    report.md, report.csv, the chart, and what the numbers say of the notes' claims

Nothing here is imported by the package's `__init__`: PyTorch loads only when a comparison runs.
"""
