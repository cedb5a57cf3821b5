"""kerasapps: train, tune and deploy the classic networks of a deep-learning course.

The library imports Keras and TensorFlow as any Keras code does; the commands
(`kerasapps.commands`) import it once their arguments are parsed. The floors of
the package are drawn in docs/architecture.md.
"""

__version__ = "0.2.0"
