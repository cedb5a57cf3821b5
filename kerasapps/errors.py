"""Exceptions that carry a message meant for the user, and the small checks that raise them.

Command-line entry points print a `UserError` as one line and exit with code 2,
a `TrainingDiverged` with code 1 (see `kerasapps.commands.cli`); anything else is a bug
and keeps its traceback. This is the lowest floor of the package: every layer
may import it, it imports nothing of ours.
"""

import math


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


class TrainingDiverged(Exception):
    """The loss became NaN or infinite; the message says when and what to try."""


def check_choice(name, value, choices):
    """Raise `UserError` unless `value` is one of `choices`, echoing the value and the choices."""
    if value not in choices:
        raise UserError(f"Unrecognized {name}={value!r}. Supported values are: {', '.join(map(str, choices))}.")


def check_at_least(name, value, least=1):
    """Raise `UserError` unless `value` is an int of at least `least`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise UserError(f"{name} must be an integer of at least {least}, got {value!r}.")


def check_positive_number(name, value):
    """Raise `UserError` unless `value` is a finite number above 0 (NaN and inf are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise UserError(f"{name} must be a finite number above 0, got {value!r}.")


def first_line(error):
    """The line of a long error (a converter's or a runtime's) that says what went wrong."""
    lines = [line.strip() for line in str(error).splitlines() if "error:" in line] or str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
