"""Exceptions that carry a message meant for the user.

Command-line entry points print a `UserError` as one line and exit with code 2
(see `kerasapps.cli`); anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """Bad input that the user can fix; the message says what and how."""


class GeometryError(UserError):
    """A layer's output size is not a positive whole number."""


class DatasetUnavailable(UserError):
    """A dataset could not be found locally, in the TFDS cache, or downloaded.

    `reason` says what is missing; `hint`, how to provide it. The message is both.
    """

    def __init__(self, reason, hint=""):
        super().__init__(f"{reason}. {hint}".strip() if hint else reason)
        self.reason = reason
        self.hint = hint
