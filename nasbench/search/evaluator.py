"""Evaluators: what a search calls to score an architecture, ``evaluator(arch) -> {objective: value}``.

:class:`Evaluator` is the extension point (one method and the ``objectives`` it returns), so a search can
be run with the training-free evaluator of the saliency-guided MOBO method, with one that fine-tunes
each candidate, or with any function (:class:`FunctionEvaluator`).

:class:`TrainingFreeEvaluator` scores an architecture without training it: the distilled surrogates
(:mod:`nasbench.search.surrogates`) are stitched into the trained teacher and the stitched network is
evaluated once on whole validation images. See docs/surrogates.md.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import Dataset

from nasbench.errors import NasbenchError
from nasbench.search.surrogates import SurrogateError, Surrogates, check_teacher
from nasbench.space import Architecture, SearchSpace
from nasbench.train.metrics import evaluate

Pair = tuple[torch.Tensor, torch.Tensor]
# When TrainingFreeEvaluator re-estimates the BatchNorm statistics of the substituted blocks.
RECALIBRATE = ("on_failure", "always", "never")


class NonFiniteEvaluation(FloatingPointError):
    """A stitched network whose outputs are not finite (NaN/inf PSNR), also after re-estimating its
    BatchNorm statistics. A search records it as a failed evaluation (mobo: a FAIL trial, modelled)."""


class Evaluator(ABC):
    """Scores architectures: ``evaluator(arch)`` returns a mapping with one float per name in
    ``objectives`` (e.g. ``("psnr_db", "ssim", "psnr_drop_db")``). Subclasses set ``objectives`` and
    implement ``__call__``."""

    objectives: tuple[str, ...] = ()

    @abstractmethod
    def __call__(self, arch: Architecture) -> Mapping[str, float]:
        """The objective values of ``arch``."""


class FunctionEvaluator(Evaluator):
    """Any callable ``fn(arch)`` as an :class:`Evaluator` with objectives ``names``.

    ``fn`` returns a mapping holding at least ``names`` (other keys are dropped) or a sequence of
    ``len(names)`` numbers in that order. The result is ``{name: float}``; a missing name, a wrong
    length or a value that is not a number raises :class:`~nasbench.errors.NasbenchError`.
    """

    def __init__(
        self, fn: Callable[[Architecture], Mapping[str, float] | Sequence[float]], names: Sequence[str]
    ) -> None:
        if not callable(fn):
            raise NasbenchError(f"FunctionEvaluator: fn must be callable, got {type(fn).__name__}")
        if isinstance(names, str) or not names or not all(isinstance(n, str) for n in names):
            raise NasbenchError(f"FunctionEvaluator: names must be a non-empty list of strings, got {names!r}")
        if len(set(names)) != len(names):
            raise NasbenchError(f"FunctionEvaluator: names must be distinct, got {list(names)}")
        self.fn = fn
        self.objectives = tuple(names)

    def __call__(self, arch: Architecture) -> dict[str, float]:
        result = self.fn(arch)
        owner = f"FunctionEvaluator({getattr(self.fn, '__qualname__', repr(self.fn))})"
        if isinstance(result, Mapping):
            missing = [n for n in self.objectives if n not in result]
            if missing:
                raise NasbenchError(
                    f"{owner}: the result for {arch} lacks {', '.join(missing)} (it has {', '.join(map(str, result))})"
                )
            values = [result[n] for n in self.objectives]
        elif isinstance(result, Sequence) and not isinstance(result, str):
            if len(result) != len(self.objectives):
                raise NasbenchError(
                    f"{owner}: the result for {arch} has {len(result)} values, expected {len(self.objectives)} "
                    f"({', '.join(self.objectives)})"
                )
            values = list(result)
        else:
            raise NasbenchError(f"{owner}: expected a mapping or a sequence of numbers, got {type(result).__name__}")
        out = {}
        for name, value in zip(self.objectives, values):
            try:
                out[name] = float(value)
            except (TypeError, ValueError):
                raise NasbenchError(f"{owner}: objective {name!r} is {value!r}, not a number") from None
        return out


class TrainingFreeEvaluator(Evaluator):
    """Training-free quality of an architecture: its stitched network (:meth:`Surrogates.stitch`)
    evaluated on ``val_pairs`` (whole (degraded, clean) 3×H×W images) with
    :func:`~nasbench.train.metrics.evaluate`.

    Returns ``{"psnr_db", "ssim", "psnr_drop_db"}``, where ``psnr_drop_db`` = teacher PSNR − stitched
    PSNR on the same pairs (dB; positive when the substitutions cost quality). The teacher's metrics are
    computed once, on first use (:attr:`teacher_metrics`). Results are cached by architecture string,
    least recently used evicted beyond ``cache_size`` entries (``None``: unbounded; 0: no cache);
    ``hits`` and ``misses`` count cache look-ups, ``misses`` being the networks actually evaluated.

    Stacked surrogates with BatchNorm can overflow (their running statistics were estimated on teacher
    features, not on each other's outputs), giving non-finite PSNR. ``recalibrate`` says when the
    running statistics of every BatchNorm inside the substituted blocks are re-estimated on
    ``calibration`` (:func:`recalibrate_batchnorm`; teacher parts are left alone):
    ``"on_failure"`` (default: only when the plain stitched network gives a non-finite PSNR, so it costs
    nothing on the others), ``"always"``, or ``"never"``. ``calibration`` holds (degraded, clean) pairs or
    degraded 3×H×W images — e.g. training crops; its first ``calibration_size`` (64) items are used,
    batched by 16 when their shapes agree; without it, the degraded validation images are used. A
    result that is still non-finite raises :class:`NonFiniteEvaluation` (never a silent NaN; the
    failure is cached like a result). ``recalibrated`` counts the networks that were re-estimated.
    """

    objectives = ("psnr_db", "ssim", "psnr_drop_db")

    def __init__(
        self,
        space: SearchSpace,
        teacher: nn.Module,
        surrogates: Surrogates,
        val_pairs: Sequence[Pair],
        *,
        cache_size: int | None = None,
        recalibrate: str = "on_failure",
        calibration: Dataset | Sequence[Pair | torch.Tensor] | None = None,
        calibration_size: int = 64,
    ) -> None:
        if surrogates.space != space:
            raise SurrogateError(
                f"TrainingFreeEvaluator: the surrogates were distilled for space {surrogates.space.name!r}, "
                f"not this definition of {space.name!r}"
            )
        check_teacher(space, teacher)
        if not val_pairs:
            raise NasbenchError("TrainingFreeEvaluator: val_pairs is empty; give whole (degraded, clean) images")
        if cache_size is not None and (
            isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0
        ):
            raise NasbenchError(f"TrainingFreeEvaluator: cache_size must be an integer ≥ 0 or None, got {cache_size!r}")
        if recalibrate not in RECALIBRATE:
            raise NasbenchError(
                f"TrainingFreeEvaluator: recalibrate must be one of {', '.join(RECALIBRATE)}, got {recalibrate!r}"
            )
        if isinstance(calibration_size, bool) or not isinstance(calibration_size, int) or calibration_size < 1:
            raise NasbenchError(
                f"TrainingFreeEvaluator: calibration_size must be an integer ≥ 1, got {calibration_size!r}"
            )
        self.space, self.teacher, self.surrogates = space, teacher, surrogates
        self.val_pairs = list(val_pairs)
        self.cache_size = cache_size
        self.recalibrate = recalibrate
        source = self.val_pairs if calibration is None else calibration
        items = [source[i] for i in range(min(calibration_size, len(source)))]
        if not items:
            raise NasbenchError("TrainingFreeEvaluator: calibration is empty; give (degraded, clean) pairs or images")
        self.calibration = _batches([it[0] if isinstance(it, tuple | list) else it for it in items])
        self.hits = 0
        self.misses = 0
        self.recalibrated = 0
        self._cache: OrderedDict[str, dict[str, float] | str] = OrderedDict()
        self._teacher_metrics: dict[str, float] | None = None

    @property
    def teacher_metrics(self) -> dict[str, float]:
        """:func:`~nasbench.train.metrics.evaluate` of the teacher on the validation pairs (computed once)."""
        if self._teacher_metrics is None:
            self._teacher_metrics = evaluate(self.teacher, self.val_pairs)
        return dict(self._teacher_metrics)

    def __len__(self) -> int:
        """The number of cached results."""
        return len(self._cache)

    def __call__(self, arch: Architecture | str) -> dict[str, float]:
        arch = self.space.architecture(arch) if isinstance(arch, str) else arch
        self.space.indices(arch)  # ArchitectureError for an architecture of another space
        key = str(arch)
        cached = self._cache.get(key)
        if cached is not None:
            self.hits += 1
            self._cache.move_to_end(key)
            if isinstance(cached, str):
                raise NonFiniteEvaluation(cached)
            return dict(cached)
        result: dict[str, float] | str = self._measure(arch)
        self.misses += 1
        if self.cache_size is None or self.cache_size > 0:
            self._cache[key] = result
            while self.cache_size is not None and len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        if isinstance(result, str):
            raise NonFiniteEvaluation(result)
        return dict(result)

    def _measure(self, arch: Architecture) -> dict[str, float] | str:
        """The metrics of ``arch``'s stitched network, or the message of a non-finite result."""
        network = self.surrogates.stitch(self.teacher, arch)
        metrics = None if self.recalibrate == "always" else evaluate(network, self.val_pairs)
        if metrics is None or (self.recalibrate == "on_failure" and not math.isfinite(metrics["psnr_db"])):
            substituted = [path for path, name in network.position_names.items() if arch[name] != self._original(name)]
            if recalibrate_batchnorm(network, self.calibration, within=substituted):
                self.recalibrated += 1
            metrics = evaluate(network, self.val_pairs)
        if not math.isfinite(metrics["psnr_db"]):
            return (
                f"{arch}: the stitched network gives a non-finite PSNR ({metrics['psnr_db']}) "
                f"(recalibrate={self.recalibrate!r})"
            )
        return {
            "psnr_db": metrics["psnr_db"],
            "ssim": metrics["ssim"],
            "psnr_drop_db": _difference(self.teacher_metrics["psnr_db"], metrics["psnr_db"]),
        }

    def _original(self, position: str) -> str:
        return self.space.position(position).candidates[0].label

    def clear_cache(self) -> None:
        """Forget the cached results (e.g. after changing the surrogates); the counters are kept."""
        self._cache.clear()


def _batches(images: list[torch.Tensor], size: int = 16) -> list[torch.Tensor]:
    """3×H×W images as N×3×H×W batches of up to ``size``; one image per batch when their shapes differ."""
    if len({tuple(im.shape) for im in images}) == 1:
        return [torch.stack(images[i : i + size]) for i in range(0, len(images), size)]
    return [im[None] for im in images]


def recalibrate_batchnorm(
    model: nn.Module, batches: Iterable[torch.Tensor], within: Sequence[str] | None = None
) -> int:
    """Re-estimate the running mean and variance of the BatchNorm layers of ``model`` under the module
    paths ``within`` (all of them when None) from forward passes over ``batches`` (N×C×H×W inputs).

    Statistics are reset and averaged over the batches (cumulative average: ``momentum=None``); weights
    are not touched, and ``model`` is left in eval mode. Returns the number of layers re-estimated.
    """
    prefixes = None if within is None else tuple(f"{p}." for p in within)
    layers = [
        m
        for name, m in model.named_modules()
        if isinstance(m, _BatchNorm)
        and m.track_running_stats
        and (prefixes is None or f"{name}.".startswith(prefixes))
    ]
    if not layers:
        return 0
    device = next(model.parameters(), torch.empty(0)).device
    momenta = [m.momentum for m in layers]
    model.eval()
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    try:
        with torch.no_grad():
            for batch in batches:
                model(batch.to(device))
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        model.eval()
    return len(layers)


def _difference(teacher: float, stitched: float) -> float:
    """teacher − stitched, with equal values (also two infinite PSNRs) giving 0."""
    return 0.0 if teacher == stitched else teacher - stitched


__all__ = [
    "RECALIBRATE",
    "Evaluator",
    "FunctionEvaluator",
    "NonFiniteEvaluation",
    "TrainingFreeEvaluator",
    "recalibrate_batchnorm",
]
