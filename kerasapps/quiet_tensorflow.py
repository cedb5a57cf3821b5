"""Importing this module imports TensorFlow with its start-up chatter hidden (`settings.import_tensorflow`).

For a process that starts by importing modules by name rather than through a command: the
fork server of `search.trials` lists it first among the modules it preloads.
"""

from kerasapps import settings

settings.import_tensorflow()
