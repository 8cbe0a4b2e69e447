"""``nasbench quickstart``: the whole pipeline on the built-in photographs, in a few minutes on a CPU.

profile the ``nafnet_tiny`` space → search (DARTS) → derive → fine-tune the baseline and the found
network with the same budget → fold BatchNorm, export ONNX, measure both in onnxruntime → print a table
and write ``summary.json``, the architecture, plots, the trained networks (``baseline.pt``/``.onnx``,
``found.pt``/``.onnx``) and the latency table into ``output``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nasbench.errors import NasbenchError, known
from nasbench.latency import LatencyTable, Protocol
from nasbench.search.pipeline import darts_pipeline
from nasbench.space import load_space

#: Small enough for ≤ 5 minutes on 2 cores; every value is a documented choice, not a paper's.
SETTINGS: dict[str, Any] = {
    "space": "nafnet_tiny",
    "latency_input": [128, 128],
    "profile": {"warmup": 1, "runs": 4, "rounds": 3},
    "data": {"task": "denoise", "sigma": 25, "crop": 48},
    "darts": {
        "steps": 120,
        "warmup_steps": 40,
        "batch_size": 8,
        "mu": 0.03,
        "lambda_start": 1e-3,
        "lambda_end": 0.5,
        "alpha_lr": 0.02,
    },
    "finetune": {"steps": 250, "batch_size": 8, "lr": 1e-3},
}
ENGINES = ("darts",)


def quickstart(
    output: str | Path = "runs/quickstart",
    engine: str = "darts",
    progress: bool = True,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the pipeline and return the ``summary.json`` content (API.md).

    ``settings`` overrides top-level entries of :data:`SETTINGS` (e.g. ``{"darts": {...}}`` for a smaller
    run)."""
    if engine not in ENGINES:
        raise NasbenchError(f"quickstart: engine {engine!r} is not available {known(ENGINES)}")
    start = time.perf_counter()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    s = {**SETTINGS, **(settings or {})}
    space = load_space(s["space"])
    size = s["latency_input"]
    table = LatencyTable.profile(space, size, Protocol(**s["profile"]), work_dir=out / "profile", progress=progress)
    result = darts_pipeline(space, table, s, out, progress=progress, started=start, extra_settings={"engine": engine})
    return result.summary
