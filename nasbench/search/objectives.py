"""Search objectives: what a multi-objective search minimises or maximises.

Two kinds:

- **measured** objectives come from an evaluator (``psnr_drop_db``, ``psnr_db``, ``ssim``, or any key the
  evaluator returns); the search models them with a Gaussian process.
- **additive** objectives are known exactly from the architecture alone, as a constant plus one value per
  position and candidate: LUT latency (``latency_ms``), parameter count (``params``), the number of
  positions using a block (``count:restormer``). The search never models them: it computes them, so the
  acquisition sees their true values and a budget on them is enforced before a candidate is evaluated.

An objective is named by a string. Unknown measured names need a direction: ``"min:foo"`` / ``"max:foo"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from nasbench.blocks import create_block
from nasbench.cost import count_params
from nasbench.errors import NasbenchError, known, suggest
from nasbench.latency.table import LatencyTable, block_key, skeleton_key
from nasbench.space import Architecture, SearchSpace

DIRECTIONS = ("minimize", "maximize")

# Directions of the measured quantities nasbench's evaluators return.
MEASURED_DIRECTIONS: dict[str, str] = {
    "psnr_drop_db": "minimize",
    "psnr_db": "maximize",
    "ssim": "maximize",
    "ssim_drop": "minimize",
    "feature_mse": "minimize",
}


class ObjectiveError(NasbenchError):
    """An objective or constraint that cannot be used."""


@dataclass(frozen=True)
class Objective:
    """One search objective: its ``name`` (as stored in results), ``direction`` and ``kind``
    (``"measured"`` or ``"additive"``)."""

    name: str
    direction: str
    kind: str

    @property
    def sign(self) -> float:
        """+1 for minimised objectives, −1 for maximised ones: ``sign·value`` is always minimised."""
        return 1.0 if self.direction == "minimize" else -1.0


class AdditiveTable:
    """An exact, additive objective: ``constant + Σ_positions values[position][candidate index]``.

    ``matrix`` is positions × max-candidates (padded with NaN) so a batch of index-encoded architectures
    is priced with one gather: :meth:`tensor`.
    """

    def __init__(self, space: SearchSpace, constant: float, values: Mapping[str, Sequence[float]]) -> None:
        self.space = space
        self.constant = float(constant)
        width = max(len(p.candidates) for p in space.positions)
        rows = []
        for p in space.positions:
            row = [float(v) for v in values[p.name]]
            rows.append(row + [float("nan")] * (width - len(row)))
        self.matrix = torch.tensor(rows, dtype=torch.float64)

    def value(self, arch: Architecture) -> float:
        return float(self.tensor(torch.tensor([self.space.indices(arch)]))[0])

    def tensor(self, indices: torch.Tensor) -> torch.Tensor:
        """Values for index-encoded architectures ``indices`` (… × positions, any numeric dtype)."""
        idx = indices.round().long()
        rows = torch.arange(self.matrix.shape[0])
        return self.matrix.to(indices.device)[rows, idx].sum(-1) + self.constant


AdditiveFactory = Callable[[SearchSpace, "LatencyTable | None", "tuple[int, int] | None", str], AdditiveTable]
_ADDITIVE: dict[str, tuple[str, AdditiveFactory]] = {}


def register_additive(name: str, direction: str = "minimize") -> Callable[[AdditiveFactory], AdditiveFactory]:
    """Register an exact additive objective. A name ending in ``:`` takes an argument (``count:restormer``)."""
    if direction not in DIRECTIONS:
        raise ObjectiveError(f"objective {name!r}: direction must be one of {DIRECTIONS}, got {direction!r}")

    def decorate(factory: AdditiveFactory) -> AdditiveFactory:
        _ADDITIVE[name] = (direction, factory)
        return factory

    return decorate


def list_objectives() -> list[str]:
    """Known objective names: the additive ones (``count:`` takes a block name) and the measured ones."""
    return sorted(_ADDITIVE) + sorted(MEASURED_DIRECTIONS)


def _additive_entry(name: str) -> tuple[str, str, tuple[str, AdditiveFactory]] | None:
    """(registered key, argument, entry) for ``name``, or None when it is not an additive objective."""
    if name in _ADDITIVE:
        return name, "", _ADDITIVE[name]
    head, sep, arg = name.partition(":")
    if sep and f"{head}:" in _ADDITIVE:
        return f"{head}:", arg, _ADDITIVE[f"{head}:"]
    return None


def parse_objective(spec: str | Objective) -> Objective:
    """An :class:`Objective` from ``"latency_ms"``, ``"count:ssm"``, ``"psnr_drop_db"`` or ``"min:my_metric"``."""
    if isinstance(spec, Objective):
        return spec
    if not isinstance(spec, str) or not spec:
        raise ObjectiveError(f"objective must be a non-empty string, got {spec!r}")
    entry = _additive_entry(spec)
    if entry is not None:
        return Objective(spec, entry[2][0], "additive")
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in ("min", "max") and rest:
        return Objective(rest, "minimize" if prefix == "min" else "maximize", "measured")
    if spec in MEASURED_DIRECTIONS:
        return Objective(spec, MEASURED_DIRECTIONS[spec], "measured")
    raise ObjectiveError(
        f"unknown objective {spec!r} {known(list_objectives())}{suggest(spec, list_objectives())}; "
        f"name any other evaluator output as 'min:NAME' or 'max:NAME'"
    )


def additive_table(
    objective: Objective,
    space: SearchSpace,
    latency_table: LatencyTable | None = None,
    input_size: tuple[int, int] | None = None,
) -> AdditiveTable:
    """The exact per-position values of an additive objective over ``space``."""
    entry = _additive_entry(objective.name)
    if entry is None:
        raise ObjectiveError(f"objective {objective.name!r} is measured, not additive")
    _, arg, (_, factory) = entry
    return factory(space, latency_table, input_size, arg)


# ---------------------------------------------------------------------- built-in additive objectives
@register_additive("latency_ms")
def _latency(space: SearchSpace, table: LatencyTable | None, size: tuple[int, int] | None, arg: str) -> AdditiveTable:
    if table is None:
        raise ObjectiveError("objective 'latency_ms' needs a latency table (latency_table=...)")
    h, w = table.resolve_size(size)
    missing = table.missing(space, (h, w))
    if missing:
        raise ObjectiveError(
            f"latency table lacks {len(missing)} entries for space {space.name!r} at {h}×{w}, e.g. {missing[0]}; "
            f"profile them (nasbench profile) or import them"
        )
    values = {
        p.name: [table.blocks[block_key(space, p.name, lab, h, w)].median_ms for lab in p.labels]
        for p in space.positions
    }
    return AdditiveTable(space, table.skeletons[skeleton_key(space, h, w)].median_ms, values)


@register_additive("params")
def _params(space: SearchSpace, table: LatencyTable | None, size: tuple[int, int] | None, arg: str) -> AdditiveTable:
    cache: dict[Any, int] = {}
    values: dict[str, list[float]] = {}
    for p in space.positions:
        row = []
        for c in p.candidates:
            key = (c.block, c.options, p.channels)
            if key not in cache:
                cache[key] = count_params(create_block(c.block, p.channels, **c.kwargs))
            row.append(float(cache[key]))
        values[p.name] = row
    return AdditiveTable(space, float(count_params(space.skeleton())), values)


@register_additive("count:")
def _count(space: SearchSpace, table: LatencyTable | None, size: tuple[int, int] | None, arg: str) -> AdditiveTable:
    blocks = sorted(
        {c.block for p in space.positions for c in p.candidates}
        | {c.label for p in space.positions for c in p.candidates}
    )
    if arg not in blocks:
        raise ObjectiveError(f"objective 'count:{arg}': space {space.name!r} has no block {arg!r} {known(blocks)}")
    values = {p.name: [float(arg in (c.block, c.label)) for c in p.candidates] for p in space.positions}
    return AdditiveTable(space, 0.0, values)


__all__ = [
    "DIRECTIONS",
    "MEASURED_DIRECTIONS",
    "AdditiveTable",
    "Objective",
    "ObjectiveError",
    "additive_table",
    "list_objectives",
    "parse_objective",
    "register_additive",
]
