"""A small learned residual model that closes the gap between the sum of parts and the whole network.

The plain table prediction is ``skeleton + Σ_positions entry``. Each entry is timed alone, so whatever
changes when blocks run inside the network — weights that no longer fit in the cache, layout reorders and
fusions at block boundaries, memory traffic between blocks — is missing from it. The correction models
that residual as a per-group rescaling of the entries plus a constant::

    measured ≈ plain + intercept_ms + Σ_g scale[g] · (Σ of the entries in group g)

where a group is chosen by a :data:`GROUPINGS` function of the entry's signature (``block``: its block
name; ``block_level``: block name and shape). It is fitted by ridge regression (the scales shrink towards
0, i.e. towards the plain sum; the penalty is chosen by leave-one-out error) on a *calibration sample*
of architectures measured end to end, which :func:`nasbench.latency.validate.validate` never draws
from. The fitted coefficients, the calibration architectures and their measured latencies are stored in
the table file (``correction:``), so the fit can be inspected and reproduced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from nasbench.latency.runtime import Protocol
from nasbench.latency.table import BlockKey, LatencyTable, LatencyTableError
from nasbench.registry import Registry
from nasbench.space import SearchSpace

Grouping = Callable[[BlockKey], str]
GROUPINGS: Registry[Grouping] = Registry("correction grouping", LatencyTableError)

#: Ridge penalties tried (relative to the number of calibration networks, on RMS-normalised features);
#: the infinite one keeps every scale at 0 and fits only the intercept (a constant offset).
_PENALTIES = (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, float("inf"))


@GROUPINGS.register("block")
def _by_block(key: BlockKey) -> str:
    return key.block


@GROUPINGS.register("block_level")
def _by_block_and_shape(key: BlockKey) -> str:
    return f"{key.block}@{key.channels}x{key.height}x{key.width}"


@dataclass(frozen=True)
class Correction:
    """``intercept_ms + Σ_g scale[g] · features[g]`` ms, added to the plain sum of a table's entries.

    Fitted for one space at one (padded-to-input) size: ``space`` and ``input_size`` (H, W) say where it
    applies. ``calibration`` lists the architectures (compact strings) and their measured end-to-end
    latencies (ms) it was fitted on; ``fit`` records how (penalty, errors before/after, leave-one-out).
    """

    space: str
    input_size: tuple[int, int]
    grouping: str
    intercept_ms: float
    scale: dict[str, float]
    calibration: list[dict[str, Any]] = field(default_factory=list)
    fit: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        GROUPINGS.get(self.grouping, "correction")

    def applies(self, space_name: str, size: tuple[int, int]) -> bool:
        return space_name == self.space and tuple(size) == tuple(self.input_size)

    def features(self, parts: Mapping[BlockKey, float]) -> dict[str, float]:
        """Milliseconds of the plain prediction per group, from ``{signature: ms}`` summed over positions."""
        group = GROUPINGS.get(self.grouping, "correction")
        out: dict[str, float] = {}
        for key, ms in parts.items():
            out[group(key)] = out.get(group(key), 0.0) + ms
        return out

    def residual_ms(self, parts: Mapping[BlockKey, float]) -> float:
        """The correction in ms for an architecture whose blocks' entries sum to ``parts`` per signature."""
        feats = self.features(parts)
        return float(self.intercept_ms + sum(self.scale.get(g, 0.0) * ms for g, ms in feats.items()))

    def architectures(self) -> list[str]:
        return [str(row["architecture"]) for row in self.calibration]

    # ------------------------------------------------------------------ file form
    def to_dict(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "input_size": list(self.input_size),
            "grouping": self.grouping,
            "intercept_ms": self.intercept_ms,
            "scale": dict(sorted(self.scale.items())),
            "fit": self.fit,
            "calibration": self.calibration,
        }

    @classmethod
    def from_dict(cls, data: object, where: str) -> Correction:
        """Parse the ``correction:`` section of a table file; errors name ``where`` and the key."""
        if not isinstance(data, Mapping):
            raise LatencyTableError(f"{where}: expected a mapping")
        allowed = ("space", "input_size", "grouping", "intercept_ms", "scale", "fit", "calibration")
        unknown = [k for k in data if k not in allowed]
        if unknown:
            raise LatencyTableError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(allowed)})")
        missing = [k for k in allowed[:5] if k not in data]
        if missing:
            raise LatencyTableError(f"{where}: missing key {missing[0]!r}")
        size = data["input_size"]
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size)):
            raise LatencyTableError(f"{where}.input_size: expected [height, width], got {size!r}")
        scale = data["scale"]
        if not isinstance(scale, Mapping) or not all(_finite(v) for v in scale.values()):
            raise LatencyTableError(f"{where}.scale: expected a mapping of group → finite number, got {scale!r}")
        if not _finite(data["intercept_ms"]):
            raise LatencyTableError(f"{where}.intercept_ms: expected a finite number, got {data['intercept_ms']!r}")
        rows = data.get("calibration") or []
        if not isinstance(rows, list) or not all(
            isinstance(r, Mapping) and isinstance(r.get("architecture"), str) and _finite(r.get("measured_ms"))
            for r in rows
        ):
            raise LatencyTableError(f"{where}.calibration: expected a list of {{architecture, measured_ms}} rows")
        if data["grouping"] not in GROUPINGS:
            GROUPINGS.get(str(data["grouping"]), f"{where}.grouping")
        return cls(
            str(data["space"]),
            (size[0], size[1]),
            str(data["grouping"]),
            float(data["intercept_ms"]),
            {str(k): float(v) for k, v in scale.items()},
            [dict(r) for r in rows],
            dict(data.get("fit") or {}),
        )


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and bool(np.isfinite(value))


def fit_correction(
    space_name: str,
    input_size: tuple[int, int],
    parts: Sequence[Mapping[BlockKey, float]],
    plain_ms: Sequence[float],
    measured_ms: Sequence[float],
    architectures: Sequence[str],
    grouping: str = "block",
    **fit_info: Any,
) -> Correction:
    """Fit a :class:`Correction` on calibration networks.

    ``parts[i]`` maps each signature of network i to the ms its positions contribute to the plain
    prediction ``plain_ms[i]``; ``measured_ms[i]`` is its measured end-to-end latency. The penalty with the
    smallest leave-one-out squared error is kept; ``fit`` records it with the in-sample and leave-one-out
    mean absolute percentage errors of the plain and corrected predictions.
    """
    n = len(measured_ms)
    if n < 3 or not len(parts) == len(plain_ms) == len(architectures) == n:
        raise LatencyTableError(f"fitting a latency correction needs ≥ 3 calibration networks, got {n}")
    GROUPINGS.get(grouping, "fit_correction")
    probe = Correction(space_name, input_size, grouping, 0.0, {})
    feats = [probe.features(p) for p in parts]
    groups = sorted({g for f in feats for g in f})
    x = np.array([[1.0] + [f.get(g, 0.0) for g in groups] for f in feats])
    measured = np.asarray(measured_ms, dtype=float)
    plain = np.asarray(plain_ms, dtype=float)
    theta, penalty, loo = _ridge_loo(x, measured - plain)
    corrected = plain + x @ theta

    def mape(pred: np.ndarray) -> float:
        return round(float(np.mean(np.abs(pred - measured) / measured) * 100), 4)

    fit = {
        "method": "ridge, penalty by leave-one-out",
        "penalty": penalty if np.isfinite(penalty) else "inf (intercept only)",
        "n": n,
        **fit_info,
        "mape_plain_pct": mape(plain),
        "mape_corrected_pct": mape(corrected),
        "mape_leave_one_out_pct": mape(measured - loo),
    }
    rows = [{"architecture": a, "measured_ms": round(float(m), 5)} for a, m in zip(architectures, measured)]
    scale = {g: round(float(s), 6) for g, s in zip(groups, theta[1:])}
    return Correction(space_name, tuple(input_size), grouping, round(float(theta[0]), 5), scale, rows, fit)


def _ridge_loo(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Ridge fit of ``y ≈ x θ`` (column 0 is the unpenalised intercept) with the penalty of smallest
    leave-one-out error (closed form, through the leverages); returns θ, the penalty and the
    leave-one-out residuals."""
    n, k = x.shape
    rms = np.sqrt(np.mean(x[:, 1:] ** 2, axis=0))
    norm = np.concatenate([[1.0], np.where(rms > 0, rms, 1.0)])
    xs = x / norm
    best: tuple[float, np.ndarray, float, np.ndarray] | None = None
    for penalty in _PENALTIES:
        if np.isinf(penalty):
            theta = np.concatenate([[y.mean()], np.zeros(k - 1)])
            loo = (y - y.mean()) * n / (n - 1)
        else:
            a = xs.T @ xs + np.diag([0.0] + [penalty * n] * (k - 1))
            if np.linalg.matrix_rank(a) < k:
                continue
            inv = np.linalg.inv(a)
            theta = inv @ xs.T @ y
            leverage = np.einsum("ij,jk,ik->i", xs, inv, xs)
            if np.any(leverage > 1 - 1e-9):
                continue
            loo = (y - xs @ theta) / (1 - leverage)
        err = float(np.mean(loo**2))
        if best is None or err < best[0]:
            best = (err, theta / norm, penalty, loo)
    if best is None:
        raise LatencyTableError(f"cannot fit the latency correction: {n} calibration networks for {k} coefficients")
    return best[1], best[2], best[3]


def calibrate(
    space: SearchSpace,
    table: LatencyTable,
    n: int = 20,
    input_size: Sequence[int] | None = None,
    *,
    seed: int = 1000,
    grouping: str = "block",
    protocol: Protocol | None = None,
    repeats: int = 1,
    progress: bool = True,
    **protocol_overrides: Any,
) -> LatencyTable:
    """``table`` with a :class:`Correction` fitted on ``n`` random architectures measured end to end.

    The calibration sample is drawn with ``seed`` (keep it different from the validation seed; the
    validation sample skips these architectures anyway) and timed like :func:`~nasbench.latency.validate.
    validate` does (the table's protocol unless ``protocol`` is given, interleaved, ``repeats`` passes).
    """
    from nasbench.latency.validate import distinct_random, measure_architectures, timing_protocol

    GROUPINGS.get(grouping, "calibrate")
    protocol = timing_protocol(table, protocol, **protocol_overrides)
    h, w = table.resolve_size(input_size)
    archs = distinct_random(space, n, seed)
    # pricing first: a missing entry fails before any timing
    parts = [table.signature_breakdown(space, a, (h, w)) for a in archs]
    plain = [table.predict(space, a, (h, w), corrected=False) for a in archs]
    rows = measure_architectures(space, archs, (h, w), protocol, repeats, progress, desc="calibrate")
    correction = fit_correction(
        space.name,
        (h, w),
        parts,
        plain,
        [r["measured_ms"] for r in rows],
        [r["architecture"] for r in rows],
        grouping,
        seed=seed,
        repeats=repeats,
        protocol=protocol.to_dict(),
        date=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return replace(table, blocks=dict(table.blocks), skeletons=dict(table.skeletons), correction=correction)
