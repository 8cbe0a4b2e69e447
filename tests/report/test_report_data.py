"""The data behind the report's figures, checked against the run's own files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from nasbench.report import Omitted, load_run
from nasbench.report import data as d


def test_alpha_heatmap_matches_the_derived_architecture(darts_run: Path) -> None:
    run = load_run(darts_run)
    heat = d.alpha_heatmap(run)
    assert heat.positions == [p.name for p in run.space.searchable_positions]
    assert heat.probabilities.shape == (len(heat.positions), len(heat.labels))
    np.testing.assert_allclose(np.nansum(heat.probabilities, axis=1), 1.0, atol=1e-4)
    found = run.space.architecture(run.summary["found"]["architecture"])
    assert heat.chosen == [found[p] for p in heat.positions]
    # the derived architecture is the argmax of the final probabilities
    assert heat.chosen == [heat.labels[int(np.nanargmax(row))] for row in heat.probabilities]
    assert len(run.result.history) == 3 and heat.step == run.result.history[-1]["step"]  # steps count from 0


def test_latency_breakdown_sums_to_the_summary_prediction(darts_run: Path) -> None:
    run = load_run(darts_run)
    lat = d.latency_breakdown(run)
    assert lat.parts[0] == "skeleton" and len(lat.parts) == 1 + len(run.space.positions)
    for name in ("baseline", "found"):
        assert lat.predicted_total(name) == pytest.approx(run.summary[name]["predicted_latency_ms"])
        assert lat.measured[name] == run.summary[name]["latency_ms"] > 0
    assert lat.input_size == [64, 64]


@pytest.mark.slow  # builds the tiny MOBO run (teacher, saliency, surrogates, 3 evaluations)
def test_pareto_and_hypervolume_of_a_mobo_run(mobo_run: Path) -> None:
    run = load_run(mobo_run)
    pareto = d.pareto_plot(run)
    history = run.result.history
    assert pareto.names == ("psnr_drop_db", "latency_ms") and len(pareto.x) == len(history) == 3
    assert pareto.baseline.sum() == 1 and pareto.x[pareto.baseline][0] == pytest.approx(0.0, abs=1e-9)
    assert pareto.knee.sum() == 1 and pareto.on_front[pareto.knee].all()
    front = {r["trial"] for r in run.result.pareto_front}
    assert pareto.on_front.sum() == len(front)
    hv = d.hypervolume_history(run)
    assert (np.diff(hv.hypervolume) >= -1e-12).all() and len(hv.reference_point) == 2
    sal = d.saliency_bars(run)
    assert set(sal.protected) == set(run.summary["settings"]["protected"]) and len(sal.protected) == 9


@pytest.mark.slow  # builds the tiny MOBO run (teacher, saliency, surrogates, 3 evaluations)
def test_engine_specific_sections_say_why_they_are_left_out(darts_run: Path, mobo_run: Path) -> None:
    with pytest.raises(Omitted, match="not a mobo run"):
        d.pareto_plot(load_run(darts_run))
    with pytest.raises(Omitted, match="only multi-objective searches have a hypervolume"):
        d.hypervolume_history(load_run(darts_run))
    with pytest.raises(Omitted, match="not a darts run"):
        d.alpha_heatmap(load_run(mobo_run))
    with pytest.raises(Omitted, match="saliency.csv not in the run directory"):
        d.saliency_bars(load_run(darts_run))


def test_missing_artifacts_degrade(darts_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "partial"
    shutil.copytree(darts_run, run_dir)
    (run_dir / "latency_table.yaml").unlink()
    (run_dir / "history.csv").unlink()
    run = load_run(run_dir)
    with pytest.raises(Omitted, match="latency_table.yaml not in the run directory"):
        d.latency_breakdown(run)
    with pytest.raises(Omitted, match="history.csv not in the run directory"):
        d.alpha_heatmap(run)
    table = d.comparison_table(run)
    assert [row[0] for row in table.rows] == ["baseline", "found"] and "speed-up" in table.caption
    (run_dir / "space.yaml").write_text("name: [unclosed\n")
    broken = load_run(run_dir)
    assert broken.result is None and "could not be read" in broken.problems["result.json"]


def test_settings_table_flattens_dotted_keys(darts_run: Path) -> None:
    rows = dict(map(tuple, d.settings_table(load_run(darts_run)).rows))
    settings = json.loads((darts_run / "summary.json").read_text())["settings"]
    assert rows["darts.steps"] == settings["darts"]["steps"] == 3
    assert rows["latency_input"] == [64, 64]
