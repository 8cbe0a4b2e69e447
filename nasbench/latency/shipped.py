"""The latency tables shipped with nasbench, and the table a recipe prices a space with.

Shipped tables live in ``nasbench/profiles/tables/<space>_<size>_t<threads>.yaml`` (square sizes, measured
on this project's machine; see ``nasbench/profiles/README.md``). :func:`latency_table` takes the shipped
table when it covers the space at the requested size and was measured with the protocol's threads and
optimisation level, and otherwise profiles one with that protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nasbench.latency.runtime import Protocol
from nasbench.latency.table import LatencyTable
from nasbench.space import SearchSpace

TABLES_DIR = Path(__file__).resolve().parents[1] / "profiles" / "tables"


def shipped_table(
    space: SearchSpace, input_size: Sequence[int], protocol: Protocol | None = None
) -> LatencyTable | None:
    """The shipped table of ``space`` at ``input_size`` ((H, W), H = W) measured like ``protocol`` (its
    ``threads`` and ``graph_optimization``; default :class:`Protocol`), or None when there is none or it
    lacks an entry some architecture of ``space`` needs."""
    protocol = protocol or Protocol()
    height, width = (int(s) for s in input_size[-2:])
    path = TABLES_DIR / f"{space.name}_{height}_t{protocol.threads}.yaml"
    if height != width or not path.exists():
        return None
    table = LatencyTable.load(path)
    measured_like = table.metadata.get("graph_optimization") == protocol.graph_optimization
    return table if measured_like and not table.missing(space, (height, width)) else None


def latency_table(
    space: SearchSpace,
    input_size: Sequence[int],
    protocol: Protocol | None = None,
    *,
    work_dir: str | Path | None = None,
    progress: bool = True,
) -> LatencyTable:
    """A table pricing every architecture of ``space`` at ``input_size`` ((H, W)) as measured with
    ``protocol`` (default :class:`Protocol`): the shipped one (:func:`shipped_table`) if it fits, else one
    profiled now with ``protocol`` (resumable in ``work_dir``; costs a few seconds per distinct block)."""
    protocol = protocol or Protocol()
    shipped = shipped_table(space, input_size, protocol)
    if shipped is not None:
        return shipped
    return LatencyTable.profile(space, list(input_size[-2:]), protocol, work_dir=work_dir, progress=progress)


__all__ = ["TABLES_DIR", "latency_table", "shipped_table"]
