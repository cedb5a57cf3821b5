"""The model registry: one dict of builders, filled by a decorator.

    @register_model("lenet5", family="lenet")
    def lenet5(**kwargs): ...

    build_model("lenet5", input_shape=(32, 32, 1), num_classes=10)

Importing `kerasapps.models` registers every model in the suite.
"""

import dataclasses
import inspect
from typing import Callable

from kerasapps.errors import UserError


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered builder and what `python -m kerasapps.models` shows of it."""

    name: str
    builder: Callable
    family: str
    description: str
    base: Callable | None = None  # the generic builder a variant forwards **kwargs to

    def defaults(self):
        """Every keyword argument the model takes, with its default value.

        A variant's own defaults override those of the generic builder it forwards to.
        """
        defaults = _keyword_defaults(self.base) if self.base else {}
        defaults.update(_keyword_defaults(self.builder))
        return defaults


def _keyword_defaults(function):
    return {
        p.name: p.default
        for p in inspect.signature(function).parameters.values()
        if p.default is not inspect.Parameter.empty
    }


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, *, family: str, description: str = "", base: Callable | None = None):
    """Decorator that adds a builder to the registry under `name`.

    `base` names the generic builder that a thin variant passes its **kwargs on
    to, so that config checks and tuners see all of the variant's arguments.

    Raises:
        ValueError: a model of that name is already registered.
    """

    def decorate(builder):
        if name in _MODELS:
            raise ValueError(f"A model named {name!r} is already registered ({_MODELS[name].description}).")
        doc = description or (inspect.getdoc(builder) or "").split("\n")[0]
        _MODELS[name] = ModelEntry(name, builder, family, doc, base)
        return builder

    return decorate


def _ensure_models_imported():
    import kerasapps.models  # noqa: F401  (registers every model)


def get_model_entry(name: str) -> ModelEntry:
    """The registry entry for `name`; raises `UserError` listing the known names."""
    _ensure_models_imported()
    if name not in _MODELS:
        raise UserError(
            f"Unknown model {name!r}. Registered models are: {', '.join(list_models())}."
        )
    return _MODELS[name]


def list_models() -> list[str]:
    """The names of all registered models, sorted."""
    _ensure_models_imported()
    return sorted(_MODELS)


def build_model(name: str, **kwargs):
    """Build the registered model `name` with keyword arguments `kwargs`.

    Raises:
        UserError: unknown model name or an argument the builder does not take.
    """
    entry = get_model_entry(name)
    accepted = entry.defaults()
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise UserError(
            f"Model {name!r} takes no argument {', '.join(unknown)}. "
            f"Its arguments are: {', '.join(sorted(accepted))}."
        )
    return entry.builder(**kwargs)
