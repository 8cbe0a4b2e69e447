"""The model zoo: named networks, built by registered factories (timm-style).

The published networks are the baselines of the built-in spaces, so a zoo model and
``load_space(...).build(space.baseline())`` are the same network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from nasbench.errors import ModelError
from nasbench.registry import Registry
from nasbench.space import load_space

FactoryT = TypeVar("FactoryT", bound=Callable[..., nn.Module])

_MODELS: Registry[Callable[..., nn.Module]] = Registry("model", ModelError)


def register_model(name: str) -> Callable[[FactoryT], FactoryT]:
    """Decorator: register a factory ``(**kwargs) -> nn.Module`` as model ``name``."""
    return _MODELS.register(name)


def list_models() -> list[str]:
    return _MODELS.names()


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the zoo model ``name`` (randomly initialised; nasbench never downloads weights)."""
    factory = _MODELS.get(name)
    try:
        return factory(**kwargs)
    except TypeError as exc:
        raise ModelError(f"model {name!r}: {exc}") from None


def _baseline_of(space: str) -> Callable[[], nn.Module]:
    def factory() -> nn.Module:
        s = load_space(space)
        return s.build(s.baseline())

    factory.__doc__ = f"The baseline network of the built-in space {space!r}."
    return factory


#: Zoo models that are the baseline of a built-in space: model name -> space name.
BASELINES = {
    "nafnet_sidd_w32": "nafnet_sidd",
    "nafnet_gopro_w32": "nafnet_gopro",
    "nafnet_tiny": "nafnet_tiny",
    "restormer": "restormer",
    "restormer_tiny": "restormer_tiny",
    "lite_denoise_net": "lite_denoise",
}
for _model, _space in BASELINES.items():
    register_model(_model)(_baseline_of(_space))


# Networks that are not the baseline of a space register themselves on import; this import sits last
# because they use ``register_model`` from this module.
from nasbench import models as _models  # noqa: E402,F401
