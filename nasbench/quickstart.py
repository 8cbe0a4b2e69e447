"""``nasbench quickstart``: the whole pipeline on the built-in photographs, in a few minutes on a CPU.

profile the ``nafnet_tiny`` space → search → derive → fine-tune the baseline and the found network with
the same budget → fold BatchNorm, export ONNX, measure both in onnxruntime → print a table and write
``summary.json``, the architecture, plots, the trained networks (``baseline.pt``/``.onnx``,
``found.pt``/``.onnx``) and the latency table into ``output``.

Engines (:data:`ENGINES`): ``darts`` (entropy-regularised DARTS, :func:`~nasbench.search.pipeline.darts_pipeline`)
and ``mobo`` (the saliency-guided, training-free MOBO pipeline, :func:`~nasbench.search.mobo_pipeline.mobo_pipeline`:
teacher → saliency → surrogates → BO over (PSNR drop, LUT latency) → the knee). Both use the same data,
latency size and fine-tuning budget, so their summaries compare.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from nasbench.config import Validator, check_keys, keyword_options
from nasbench.errors import NasbenchError, known
from nasbench.latency import LatencyTable, Protocol
from nasbench.search.darts import DartsConfig, darts
from nasbench.search.mobo_pipeline import mobo_pipeline, resolve_settings
from nasbench.search.pipeline import darts_pipeline
from nasbench.search.result import SearchResult
from nasbench.space import SearchSpace, load_space
from nasbench.train import finetune

#: Shared by both engines: small enough for ≤ 5 minutes on 2 cores; documented choices, not a paper's.
_COMMON: dict[str, Any] = {
    "space": "nafnet_tiny",
    "threads": None,  # torch intra-op threads (None: torch's default); 1 is faster on a busy shared machine
    "latency_input": [128, 128],
    "profile": {"warmup": 1, "runs": 4, "rounds": 3},
    "data": {"task": "denoise", "sigma": 25, "crop": 48},
    "finetune": {"steps": 250, "batch_size": 8, "lr": 1e-3},
}
SETTINGS: dict[str, Any] = {
    **_COMMON,
    "darts": {
        "steps": 120,
        "warmup_steps": 40,
        "batch_size": 8,
        "mu": 0.03,
        "lambda_start": 1e-3,
        "lambda_end": 0.5,
        "alpha_lr": 0.02,
    },
}
#: The MOBO engine: the teacher is the baseline trained with the fine-tuning budget; surrogates and the
#: search are sized so the whole run stays near the DARTS quickstart's wall time.
MOBO_SETTINGS: dict[str, Any] = {
    **_COMMON,
    "seed": 0,
    "teacher": dict(_COMMON["finetune"]),
    "saliency": {"protect": 1, "rank_by": "aggregate", "batches": 1, "batch_size": 4},
    "surrogates": {"fraction": 0.25, "steps": 60, "batch_size": 4, "lr": 1e-3},
    "mobo": {"n_evaluations": 24, "n_initial": 8},
    "front": {"measure_latency": False},
}

# Arguments the pipelines set themselves, so a settings section may not.
_DARTS_OWNED = {"config", "input_size", "output", "resume", "progress", "callback"}
_FINETUNE_OWNED = {"checkpoint_dir", "resume", "progress", "log", "seed"}
_PROTOCOL = {f.name for f in fields(Protocol)}
#: What each section of DARTS quickstart/recipe settings accepts (None: not checked here).
DARTS_SECTIONS: dict[str, set[str] | None] = {
    "space": None,
    "threads": None,
    "latency_input": None,
    "profile": _PROTOCOL,
    "data": None,  # builtin_data options; extras go to the degradation, which checks them
    "darts": keyword_options(darts, _DARTS_OWNED) | {f.name for f in fields(DartsConfig)},
    "finetune": keyword_options(finetune, _FINETUNE_OWNED),
}


def check_darts_settings(settings: Mapping[str, Any]) -> None:
    """Raise :class:`NasbenchError` for an unknown key of DARTS quickstart/recipe settings."""
    check_keys(settings, DARTS_SECTIONS)


def check_mobo_settings(settings: Mapping[str, Any]) -> None:
    """Raise :class:`NasbenchError` for an unknown or missing key of MOBO quickstart settings."""
    check_keys({"profile": settings.get("profile", {})}, {"profile": _PROTOCOL})
    resolve_settings({k: v for k, v in settings.items() if k != "profile"})


Runner = Callable[[SearchSpace, LatencyTable, dict[str, Any], Path, bool, float], SearchResult]


@dataclass(frozen=True)
class Engine:
    """A quickstart engine: its default settings, their check, and the pipeline that runs them."""

    settings: dict[str, Any]
    validate: Validator
    run: Runner


def _run_darts(
    space: SearchSpace, table: LatencyTable, s: dict[str, Any], out: Path, progress: bool, start: float
) -> SearchResult:
    return darts_pipeline(space, table, s, out, progress=progress, started=start, extra_settings={"engine": "darts"})


def _run_mobo(
    space: SearchSpace, table: LatencyTable, s: dict[str, Any], out: Path, progress: bool, start: float
) -> SearchResult:
    pipeline_settings = {k: v for k, v in s.items() if k != "profile"}
    extra = {"engine": "mobo", "profile": s["profile"]}
    # resume: a finished or interrupted quickstart in ``out`` continues (finished stages are skipped).
    return mobo_pipeline(
        space, table, pipeline_settings, out, resume=True, progress=progress, started=start, extra_settings=extra
    )


ENGINES: dict[str, Engine] = {
    "darts": Engine(SETTINGS, check_darts_settings, _run_darts),
    "mobo": Engine(MOBO_SETTINGS, check_mobo_settings, _run_mobo),
}


def get_engine(name: str) -> Engine:
    """The registered quickstart engine ``name``; raises :class:`NasbenchError` naming the known ones."""
    if name not in ENGINES:
        raise NasbenchError(f"quickstart: engine {name!r} is not available {known(ENGINES)}")
    return ENGINES[name]


def quickstart(
    output: str | Path = "runs/quickstart",
    engine: str = "darts",
    progress: bool = True,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the pipeline and return the ``summary.json`` content (API.md).

    ``settings`` overrides top-level entries of the engine's defaults (:data:`SETTINGS` for ``darts``,
    :data:`MOBO_SETTINGS` for ``mobo``; e.g. ``{"darts": {...}}`` for a smaller run); unknown keys raise
    :class:`NasbenchError` naming them and the allowed ones."""
    chosen = get_engine(engine)
    s = {**chosen.settings, **(settings or {})}
    chosen.validate(s)
    if s.get("threads") is not None:
        torch.set_num_threads(int(s["threads"]))
    start = time.perf_counter()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    space = load_space(s["space"])
    table = LatencyTable.profile(
        space, s["latency_input"], Protocol(**s["profile"]), work_dir=out / "profile", progress=progress
    )
    return chosen.run(space, table, s, out, progress, start).summary
