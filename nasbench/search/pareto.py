"""Pareto fronts, hypervolume and knee points — all in *minimisation* form.

Every function takes an ``n × m`` array of objective values where smaller is better in every column
(multiply maximised objectives by −1 first; :class:`~nasbench.search.objectives.Objective.sign` does it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from nasbench.errors import NasbenchError


def _matrix(values: Sequence[Sequence[float]] | np.ndarray, name: str = "values") -> np.ndarray:
    y = np.asarray(values, dtype=float)
    if y.ndim != 2:
        raise NasbenchError(f"{name}: expected an n × m array of objective values, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise NasbenchError(f"{name}: objective values must be finite")
    return y


def pareto_mask(values: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows (minimisation). Duplicates of a front point all count as on it."""
    y = _matrix(values)
    n = len(y)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        dominated_by = np.all(y <= y[i], axis=1) & np.any(y < y[i], axis=1)
        mask[i] = not dominated_by.any()
    return mask


def hypervolume(values: Sequence[Sequence[float]] | np.ndarray, reference: Sequence[float]) -> float:
    """Volume dominated by ``values`` and bounded by ``reference`` (minimisation); points not strictly
    better than the reference in every objective contribute nothing."""
    y = _matrix(values) if len(values) else np.zeros((0, len(reference)))
    ref = np.asarray(reference, dtype=float)
    if y.shape[1] != ref.shape[0]:
        raise NasbenchError(f"hypervolume: {y.shape[1]} objectives but a {ref.shape[0]}-dimensional reference point")
    y = y[np.all(y < ref, axis=1)]
    if len(y) == 0:
        return 0.0
    y = y[pareto_mask(y)]
    if y.shape[1] == 2:  # exact sweep
        order = np.argsort(y[:, 0])
        y = y[order]
        widths = np.diff(np.append(y[:, 0], ref[0]))
        return float(np.sum(widths * (ref[1] - np.minimum.accumulate(y[:, 1]))))
    from botorch.utils.multi_objective.box_decompositions.dominated import DominatedPartitioning

    part = DominatedPartitioning(ref_point=torch.as_tensor(-ref), Y=torch.as_tensor(-y))
    return float(part.compute_hypervolume())


def hypervolume_history(values: Sequence[Sequence[float]] | np.ndarray, reference: Sequence[float]) -> np.ndarray:
    """Hypervolume of the first k points, for k = 1 … n."""
    y = _matrix(values) if len(values) else np.zeros((0, len(reference)))
    return np.array([hypervolume(y[: k + 1], reference) for k in range(len(y))])


def reference_point(values: Sequence[Sequence[float]] | np.ndarray, margin: float = 0.1) -> np.ndarray:
    """The worst value per objective pushed out by ``margin`` × its range (the usual nadir heuristic)."""
    y = _matrix(values)
    low, high = y.min(0), y.max(0)
    span = np.where(high > low, high - low, np.maximum(np.abs(high), 1.0))
    return high + margin * span


def knee_point(values: Sequence[Sequence[float]] | np.ndarray) -> int:
    """Index (into ``values``) of the knee of the Pareto front.

    Objectives are normalised to [0, 1] over the front. With two objectives the knee is the front point
    farthest from the straight line through the two extreme points (the point of the sharpest trade-off);
    with more, or when the front has fewer than three points, it is the point closest to the ideal point.
    """
    y = _matrix(values)
    front = np.flatnonzero(pareto_mask(y))
    f = y[front]
    low, high = f.min(0), f.max(0)
    z = (f - low) / np.where(high > low, high - low, 1.0)
    if z.shape[1] == 2 and len(front) >= 3:
        a, b = z[np.argmin(z[:, 0])], z[np.argmin(z[:, 1])]
        direction = (b - a) / max(np.linalg.norm(b - a), 1e-12)
        rel = z - a
        distance = np.abs(rel[:, 0] * direction[1] - rel[:, 1] * direction[0])
        # Only points below the chord are knees; ties go to the point nearer the ideal.
        below = (rel[:, 0] * direction[1] - rel[:, 1] * direction[0]) > 0
        score = np.where(below, distance, -np.inf)
        if np.isfinite(score).any() and score.max() > 0:
            return int(front[int(np.argmax(score))])
    return int(front[int(np.argmin(np.linalg.norm(z, axis=1)))])


__all__ = ["hypervolume", "hypervolume_history", "knee_point", "pareto_mask", "reference_point"]
