"""One registry type for every family of named builders: models and datasets share it.

    MODELS = Registry("model")

    @MODELS.register("lenet5", family="lenet")
    def lenet5(**kwargs): ...

    MODELS.register("vgg16", family="vgg", facts={"params": 138_357_544})(functools.partial(build_vgg, blocks=...))

    MODELS.build("lenet5", input_shape=(32, 32, 1), num_classes=10)

A builder's keyword defaults are what a user, the config checks and the tuner
see (`defaults`), so a variant is a `functools.partial` of its family's builder:
its signature then shows the values it really uses. A duplicate name raises, an
unknown name raises and lists what exists (`get`), and `check_arguments` is the
one check of keyword arguments that `model.args` and `data.options` go through.
An entry's `facts` are what is known of it beside its code, as timm keeps
`default_cfgs` beside `@register_model`: for a model, its exact parameter count at
the defaults (`params`, which the tests check) and the paper's `year`, `published`
count and the `source` that states it (`kerasapps models` prints them).

The registry imports nothing of the families it holds: `kerasapps.models` and
`kerasapps.data` fill `MODELS` and `DATASETS` when imported and hand them on,
so `from kerasapps.models import MODELS` is a registry with every model in it.
"""

import dataclasses
import inspect
from typing import Callable

from kerasapps.errors import UserError


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered builder and what listings show of it."""

    name: str
    builder: Callable
    family: str = ""
    description: str = ""
    test_args: dict = dataclasses.field(default_factory=dict)  # a quick build for tests (a smaller input)
    facts: dict = dataclasses.field(default_factory=dict)  # params, year, published, source (module docstring)

    def defaults(self, *, skip=()):
        """Every keyword argument the builder takes, with its default value (names in `skip` left out)."""
        return {
            p.name: p.default
            for p in inspect.signature(self.builder).parameters.values()
            if p.default is not inspect.Parameter.empty and p.name not in skip
        }


class Registry:
    """Named builders of one kind ("model", "dataset"), filled by the `register` decorator.

    Args:
        kind: what the entries are, for messages ("Unknown model 'x'").
        fixed: keyword arguments the suite passes itself (a loader's data_dir):
            not user-settable, so left out of `defaults`.
    """

    def __init__(self, kind, *, fixed=()):
        self.kind = kind
        self.fixed = tuple(fixed)
        self._entries: dict[str, Entry] = {}

    def register(self, name, *, family="", description="", test_args=None, facts=None):
        """Decorator that adds a builder under `name`; the description defaults to its docstring's first line.

        `test_args` are keyword arguments that make a quick build for the
        registry-driven tests (a smaller input for an ImageNet network, say), so a
        new entry is tested the moment it is registered; `facts` (see the module docstring)
        are checked and shown from the same place.

        Raises:
            ValueError: an entry of that name is already registered.
        """

        def decorate(builder):
            if name in self._entries:
                raise ValueError(f"A {self.kind} named {name!r} is already registered.")
            doc = description or (inspect.getdoc(builder) or "").split("\n")[0]
            self._entries[name] = Entry(name, builder, family, doc, dict(test_args or {}), dict(facts or {}))
            return builder

        return decorate

    def names(self):
        """The registered names, sorted."""
        return sorted(self._entries)

    def get(self, name):
        """The entry `name`; raises `UserError` listing the known names."""
        if name not in self._entries:
            raise UserError(f"Unknown {self.kind} {name!r}. Registered {self.kind}s are: {', '.join(self.names())}.")
        return self._entries[name]

    def defaults(self, name):
        """The user-settable keyword arguments of `name` with their defaults."""
        return self.get(name).defaults(skip=self.fixed)

    def check_arguments(self, name, arguments, *, where=None):
        """Raise `UserError` unless every key of `arguments` is a keyword of `name`'s builder,
        each value is of its default's kind (an int passes for a float, a list for a tuple)
        and in its range (`check_range`), so that a bad value fails before anything is built.

        `where` names the config section in messages ("model.args"); a bare
        keyword list otherwise.
        """
        defaults = self.defaults(name)
        for key, value in arguments.items():
            label = f"{where}.{key}" if where else key
            if key not in defaults:
                raise UserError(
                    f"Unknown argument {label!r} of {self.kind} {name!r}. "
                    f"Its arguments are: {', '.join(sorted(defaults)) or 'none'}."
                )
            default = defaults[key]
            if default is not None and value is not None and not same_kind(value, default):
                raise UserError(
                    f"{label} must be {type(default).__name__} like its default {default!r}, got {value!r}."
                )
            check_range(label, value)

    def build(self, name, /, **arguments):
        """Check `arguments`, then call `name`'s builder with them."""
        self.check_arguments(name, arguments)
        return self.get(name).builder(**arguments)


RATES = ("dropout", "fraction")  # a keyword with one of these in its name is a part of a whole: [0, 1)
POSITIVE = {  # keywords that count something or size it: above 0 (other numbers: not negative)
    "num_classes", "units", "fc_units", "c1_filters", "c3_filters", "c5_units", "f6_units", "kernel_size",
    "stem_filters", "width", "groups", "embedding_dim", "vocab_size", "num_layers", "tbptt_steps",
    "sequence_length", "timesteps", "features", "channels",
}  # fmt: skip


def check_range(label, value):
    """Raise `UserError` unless number `value` is in the range its keyword (`label`'s last part)
    gives it: a rate in [0, 1), a count or size above 0, any other number not negative."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    name = label.rsplit(".", 1)[-1]
    if any(word in name for word in RATES):
        if not 0 <= value < 1:
            raise UserError(f"{label} is a rate in [0, 1), got {value!r}.")
    elif name in POSITIVE and not value > 0:
        raise UserError(f"{label} must be above 0, got {value!r}.")
    elif value < 0:
        raise UserError(f"{label} cannot be negative, got {value!r}.")


def same_kind(value, default):
    """True if `value` may replace `default`: same type, an int for a float, a list for a tuple."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


MODELS = Registry("model")  # filled by importing kerasapps.models
DATASETS = Registry("dataset", fixed=("data_dir",))  # filled by importing kerasapps.data

register_model = MODELS.register
register_dataset = DATASETS.register
