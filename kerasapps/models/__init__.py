"""Model families; importing this package registers every model."""

from kerasapps.models import lenet  # noqa: F401
