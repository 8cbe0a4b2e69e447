"""benchmarks/wall_times.py: recipe wall times come from each run's own summary.json."""

from __future__ import annotations

import json
from pathlib import Path


def _run(folder: Path, settings: dict, engine: str | None) -> None:
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"baseline": {}, "found": {}, "settings": settings}))
    if engine:
        (folder / "result.json").write_text(json.dumps({"engine": engine}))


def test_recipe_runs_reads_wall_time_stages_and_budget(load_benchmark, tmp_path: Path) -> None:
    wall = load_benchmark("wall_times")
    _run(
        tmp_path / "deblur",
        {"space": "nafnet_tiny", "scale": "tiny", "wall_time_s": 553.4, "teacher": {"steps": 200},
         "mobo": {"n_evaluations": 30}, "finetune": {"steps": 200}, "stage_seconds": {"teacher": 120.3}},
        "mobo",
    )
    _run(tmp_path / "nested" / "ern", {"wall_time_s": 60.0, "darts": {"steps": 120}}, None)
    _run(tmp_path / "no_wall", {"space": "x"}, "darts")
    rows = wall.recipe_runs([tmp_path])
    assert [r["engine"] for r in rows] == ["mobo", "?"]  # sorted by folder; no wall time → no row
    deblur, ern = rows
    assert deblur["wall time"] == "9.2 min"
    assert deblur["budget"] == "teacher 200 steps, MOBO 30 evaluations, fine-tune 200 steps"
    assert deblur["stages (s)"] == "teacher 120.3"
    assert ern["budget"] == "DARTS 120 steps"
    assert ern["stages (s)"] == "not recorded"
