"""Evaluators: what a search calls to score an architecture, ``evaluator(arch) -> {objective: value}``.

:class:`Evaluator` is the extension point (one method and the ``objectives`` it returns), so a search can
be run with the training-free evaluator of the saliency-guided MOBO method, with one that fine-tunes
each candidate, or with any function (:class:`FunctionEvaluator`).

:class:`TrainingFreeEvaluator` scores an architecture without training it: the distilled surrogates
(:mod:`nasbench.search.surrogates`) are stitched into the trained teacher and the stitched network is
evaluated once on whole validation images. See docs/surrogates.md.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from nasbench.errors import NasbenchError
from nasbench.search.surrogates import SurrogateError, Surrogates, check_teacher
from nasbench.space import Architecture, SearchSpace
from nasbench.train.metrics import evaluate

Pair = tuple[torch.Tensor, torch.Tensor]


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
        self.space, self.teacher, self.surrogates = space, teacher, surrogates
        self.val_pairs = list(val_pairs)
        self.cache_size = cache_size
        self.hits = 0
        self.misses = 0
        self._cache: OrderedDict[str, dict[str, float]] = OrderedDict()
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
            return dict(cached)
        metrics = evaluate(self.surrogates.stitch(self.teacher, arch), self.val_pairs)
        self.misses += 1
        result = {
            "psnr_db": metrics["psnr_db"],
            "ssim": metrics["ssim"],
            "psnr_drop_db": _difference(self.teacher_metrics["psnr_db"], metrics["psnr_db"]),
        }
        if self.cache_size is None or self.cache_size > 0:
            self._cache[key] = result
            while self.cache_size is not None and len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return dict(result)

    def clear_cache(self) -> None:
        """Forget the cached results (e.g. after changing the surrogates); the counters are kept."""
        self._cache.clear()


def _difference(teacher: float, stitched: float) -> float:
    """teacher − stitched, with equal values (also two infinite PSNRs) giving 0."""
    return 0.0 if teacher == stitched else teacher - stitched


__all__ = ["Evaluator", "FunctionEvaluator", "TrainingFreeEvaluator"]
