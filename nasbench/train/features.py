"""Feature-level distillation: intermediate outputs of the student matched to the teacher's.

``distill(..., features=["encoders.0", ("decoders.3", "decoders.3")])`` records, with forward hooks, the
output of each named submodule of the student and of the teacher, and adds ``feature_weight`` times the
mean of a feature loss over the pairs to the distillation loss. Two feature losses are registered:

- ``mse`` — relative mean squared error ``mean((s − t)²) / mean(t²)``: scale-free, so one weight suits
  layers whose activations differ in magnitude; the two features must have the same shape.
- ``attention`` — attention transfer (Zagoruyko & Komodakis, ICLR 2017): each feature becomes its spatial
  map ``mean_c(f²)``, L2-normalised per sample, and the loss is the mean squared distance of the maps
  (summed over pixels). Channel counts may differ (a narrower derived student against its baseline), the
  spatial size must match.

Nothing is added to the student: no adapter layers, only hooks that are removed when ``distill`` returns,
so the distilled network stays the plain derived architecture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from nasbench.errors import suggest
from nasbench.registry import Registry
from nasbench.train.errors import TrainingError

FeatureLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
FeatureLossT = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
FeaturePairs = Sequence[str | tuple[str, str]]

_FEATURE_LOSSES: Registry[FeatureLoss] = Registry("feature loss", TrainingError)
_EPS = 1e-12


def register_feature_loss(name: str) -> Callable[[FeatureLossT], FeatureLossT]:
    """Decorator: register ``(student_feature, teacher_feature) -> scalar`` (both N×C×H×W) as ``name``."""
    return _FEATURE_LOSSES.register(name)


def list_feature_losses() -> list[str]:
    return _FEATURE_LOSSES.names()


def get_feature_loss(loss: str | FeatureLoss) -> FeatureLoss:
    if callable(loss):
        return loss
    return _FEATURE_LOSSES.get(loss, "distill: feature_loss")


@register_feature_loss("mse")
def relative_mse(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """``mean((s − t)²) / mean(t²)``; 1.0 for a student feature of zeros."""
    _same_shape(student, teacher, same_channels=True)
    return (student - teacher).pow(2).mean() / teacher.pow(2).mean().clamp_min(_EPS)


@register_feature_loss("attention")
def attention_transfer(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``‖a(s) − a(t)‖²``, ``a(f)`` = the L2-normalised map ``mean_c(f²)``."""
    _same_shape(student, teacher, same_channels=False)
    return (_attention(student) - _attention(teacher)).pow(2).sum(dim=1).mean()


def _attention(feature: torch.Tensor) -> torch.Tensor:
    flat = feature.pow(2).mean(dim=1).flatten(1)
    return flat / flat.norm(dim=1, keepdim=True).clamp_min(_EPS)


def _same_shape(student: torch.Tensor, teacher: torch.Tensor, *, same_channels: bool) -> None:
    if student.dim() != 4 or teacher.dim() != 4:
        raise TrainingError(
            f"feature loss: features must be N×C×H×W, got {tuple(student.shape)} (student) and "
            f"{tuple(teacher.shape)} (teacher)"
        )
    s, t = tuple(student.shape), tuple(teacher.shape)
    if (s if same_channels else s[:1] + s[2:]) != (t if same_channels else t[:1] + t[2:]):
        what = "shape" if same_channels else "batch and spatial size"
        hint = "; 'attention' accepts different channel counts" if same_channels and s[2:] == t[2:] else ""
        raise TrainingError(
            f"feature loss: the student feature {'×'.join(map(str, s))} and the teacher feature "
            f"{'×'.join(map(str, t))} must have the same {what}{hint}"
        )


def feature_pairs(features: FeaturePairs) -> list[tuple[str, str]]:
    """``[(student_module, teacher_module), ...]``; a plain name stands for the same name in both."""
    if isinstance(features, str) or not isinstance(features, Sequence) or not features:
        raise TrainingError(
            f"distill: features must be a non-empty list of module names or (student, teacher) name pairs, "
            f"got {features!r}"
        )
    pairs = []
    for item in features:
        if isinstance(item, str):
            pairs.append((item, item))
        elif isinstance(item, Sequence) and len(item) == 2 and all(isinstance(n, str) for n in item):
            pairs.append((item[0], item[1]))
        else:
            raise TrainingError(f"distill: features: {item!r} is neither a module name nor a (student, teacher) pair")
    return pairs


def resolve(model: nn.Module, name: str, role: str) -> nn.Module:
    """Submodule ``name`` of ``model``; an error naming the close matches otherwise."""
    modules = dict(model.named_modules())
    if name not in modules or name == "":
        top = [n for n in modules if n and "." not in n]
        raise TrainingError(
            f"distill: features: the {role} has no module {name!r}{suggest(name, modules)} "
            f"(top-level modules: {', '.join(top)}; name nested ones 'parent.child')"
        )
    return modules[name]


class FeatureRecorder:
    """Forward hooks that keep the latest output of each named module of ``model``."""

    def __init__(self, model: nn.Module, names: Sequence[str], role: str) -> None:
        self.names = list(names)
        self.role = role
        self.outputs: dict[str, torch.Tensor] = {}
        self._modules = [resolve(model, name, role) for name in self.names]
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def _hook(self, name: str) -> Callable[[nn.Module, object, object], None]:
        def hook(module: nn.Module, inputs: object, output: object) -> None:
            if not isinstance(output, torch.Tensor):
                raise TrainingError(
                    f"distill: features: the {self.role}'s module {name!r} returns {type(output).__name__}, "
                    "not a tensor; pick a module whose output is one"
                )
            self.outputs[name] = output

        return hook

    @contextmanager
    def attached(self) -> Iterator[FeatureRecorder]:
        self._handles = [m.register_forward_hook(self._hook(n)) for n, m in zip(self.names, self._modules)]
        try:
            yield self
        finally:
            for handle in self._handles:
                handle.remove()
            self._handles = []
            self.outputs = {}

    def take(self) -> list[torch.Tensor]:
        """The recorded outputs in ``names`` order (each module must have run since the last call)."""
        missing = [n for n in self.names if n not in self.outputs]
        if missing:
            raise TrainingError(
                f"distill: features: the {self.role}'s modules {missing} did not run in its forward pass"
            )
        taken = [self.outputs[n] for n in self.names]
        self.outputs = {}
        return taken


__all__ = [
    "FeatureLoss",
    "FeatureRecorder",
    "attention_transfer",
    "feature_pairs",
    "get_feature_loss",
    "list_feature_losses",
    "register_feature_loss",
    "relative_mse",
]
