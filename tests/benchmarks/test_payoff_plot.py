"""benchmarks/payoff_plot.py: reads saved search folders and draws every evaluated architecture."""

from __future__ import annotations

import math
from pathlib import Path

import nasbench
from nasbench.search.result import SearchResult


def _saved(tmp_path: Path, name: str, engine: str, history: list[dict]) -> Path:
    space = nasbench.load_space("nafnet_tiny")
    found = space.architecture({p.name: "naf_bn" for p in space.positions})
    summary = {
        "baseline": {"latency_ms": 120.0, "predicted_latency_ms": 100.0, "psnr_db": 28.0},
        "found": {"latency_ms": 60.0, "predicted_latency_ms": 55.0, "psnr_db": 27.5},
    }
    SearchResult(space, found, engine, history, None, {}, summary).save(tmp_path / name, plots=False)
    return tmp_path / name


def test_plot_counts_evaluations_and_compares(load_benchmark, tmp_path: Path) -> None:
    payoff = load_benchmark("payoff_plot")
    space = nasbench.load_space("nafnet_tiny")
    found = str(space.architecture({p.name: "naf_bn" for p in space.positions}))
    history = [
        {"trial": 0, "architecture": str(space.baseline()), "phase": "baseline", "latency_ms": 100.0, "psnr_db": 28.0},
        {"trial": 1, "architecture": found, "phase": "model", "latency_ms": 55.0, "psnr_db": 27.9},
        {"trial": 2, "architecture": "x", "phase": "model", "latency_ms": 70.0, "psnr_db": math.nan},
    ]
    folders = [_saved(tmp_path, "mobo_run", "mobo", history), _saved(tmp_path, "darts_run", "darts", [{"step": 0}])]
    assert all(payoff.finished(f) for f in folders)
    assert not payoff.finished(tmp_path)
    image = tmp_path / "img" / "payoff.png"
    rows = payoff.plot({f.name: SearchResult.load(f) for f in folders}, image)
    assert image.stat().st_size > 10_000
    by_run = {r["run"]: r for r in rows}
    assert by_run["mobo_run"]["evaluated"] == 3
    assert by_run["mobo_run"]["non-finite (not drawn)"] == 1
    assert by_run["darts_run"]["evaluated"] == "—"  # DARTS evaluates no architecture on its own
    for row in rows:
        assert row["speed-up"] == "2.00×"
        assert row["PSNR change dB"] == "-0.50"
        assert row["baseline ms measured (LUT)"] == "120.0 (100.0)"
