"""kerasapps: train, tune and deploy the classic networks of a deep-learning course.

Importing the package is cheap: TensorFlow loads on first use, quietly
(`kerasapps.lazy`). The layers of the package are listed in docs/architecture.md.
"""

__version__ = "0.2.0"
