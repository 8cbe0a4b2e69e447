"""The search-then-compare pipeline shared by ``nasbench quickstart`` and the ERN-Net recipe."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nasbench.latency import LatencyTable
from nasbench.search.darts import darts
from nasbench.search.result import SearchResult
from nasbench.search.summary import compare_architectures
from nasbench.space import SearchSpace
from nasbench.train import builtin_data


def darts_pipeline(
    space: SearchSpace,
    table: LatencyTable,
    settings: dict[str, Any],
    output: str | Path,
    *,
    resume: bool = True,
    progress: bool = True,
    started: float | None = None,
    extra_settings: dict[str, Any] | None = None,
) -> SearchResult:
    """Built-in data → DARTS → baseline and found trained with one budget, timed and evaluated.

    ``settings`` has ``latency_input`` [H, W], ``data`` (for :func:`~nasbench.train.builtin_data`),
    ``darts`` (for :func:`~nasbench.search.darts`) and ``finetune`` (``steps`` plus options for
    :func:`~nasbench.train.finetune`). Everything lands in ``output``: the table, the search files,
    ``summary.json`` and the trained networks. ``started`` (a ``time.perf_counter()`` value) lets the
    recorded wall time include work done before the call, such as profiling.
    """
    start = started if started is not None else time.perf_counter()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    size = list(settings["latency_input"])
    table.save(out / "latency_table.yaml")
    train, val = builtin_data(**settings["data"])
    result = darts(
        space, train, table, input_size=size, output=out, resume=resume, progress=progress, **settings["darts"]
    )
    finetune_options = dict(settings["finetune"])
    summary = compare_architectures(
        space,
        {"baseline": space.baseline(), "found": result.architecture},
        train,
        val,
        table,
        finetune_steps=finetune_options.pop("steps"),
        input_size=size,
        progress=progress,
        output=out,
        **finetune_options,
    )
    wall = round(time.perf_counter() - start, 1)
    result.summary = {**summary, "settings": {**(extra_settings or {}), **settings, "wall_time_s": wall}}
    result.save(out)
    return result
