"""The ENS recipe end to end on restormer_tiny with tiny settings: both searches, the objectives asked for, the
shared upstream stages, summary.json in the API.md format, and one-line errors for bad settings.

The end-to-end run is marked slow: whatever the training settings, each search's comparison exports the baseline and
the knee to ONNX twice (compare_architectures, then measure_latencies), 8 dynamo exports in all, and one export of a
restormer_tiny hybrid took 40-110 s on the loaded 2-core box."""

from __future__ import annotations

import csv
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import nasbench
from nasbench.errors import NasbenchError

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "examples" / "reproduce_ens.py"
M_KEYS = {"architecture", "params", "macs", "latency_ms", "predicted_latency_ms", "psnr_db", "ssim"}
TINY = [
    "data.crop=16",
    "data.val_max_side=32",
    "teacher={steps: 3, batch_size: 2, lr: 0.002}",
    "saliency.batches=1",
    "saliency.batch_size=2",
    "surrogates={fraction: 0.25, steps: 2, batch_size: 2, eval_batches: 1}",
    "mobo={n_evaluations: 4, n_initial: 3, raw_samples: 16, restarts: 1, fit_maxiter: 10, mc_samples: 16}",
    "finetune={steps: 2, batch_size: 2}",
]


def recipe(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, str(RECIPE), "--scale", "tiny", "--no-progress", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def recipe_module() -> ModuleType:
    """examples/reproduce_ens.py imported in this process (it imports its sibling reproduce_ern_net)."""
    sys.path.insert(0, str(RECIPE.parent))
    try:
        return importlib.import_module("reproduce_ens")
    finally:
        sys.path.remove(str(RECIPE.parent))


def overrides(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ens")
    done = recipe("--output", str(out), *overrides(TINY))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "== ens: objectives psnr_drop_db, count:restormer" in done.stdout
    assert "== ours: objectives psnr_drop_db, latency_ms" in done.stdout
    return out


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_summary_has_the_api_format_and_both_searches(run: Path) -> None:
    summary = load(run / "summary.json")
    assert set(summary) == {"baseline", "found", "pareto_front", "settings"}
    for m in (summary["baseline"], summary["found"], *summary["pareto_front"]):
        assert M_KEYS <= set(m)
    for name in ("baseline", "found"):
        assert summary[name]["latency_ms"] > 0  # measured in onnxruntime
    settings = summary["settings"]
    assert settings["primary_search"] == "ens" and settings["space"] == "restormer_tiny"
    assert set(settings["searches"]) == {"ens", "ours"}
    # The top level is the first search's summary.
    assert summary["found"] == load(run / "ens" / "summary.json")["found"]
    space = nasbench.load_space("restormer_tiny")
    for record in settings["searches"].values():
        found = load(run / record["summary"])["found"]
        assert record["found"] == found
        labels = space.architecture(found["architecture"]).labels
        assert record["transformer_blocks"] == {"baseline": 9, "found": sum(lab == "restormer" for lab in labels)}
        assert record["evaluations"] == 4


@pytest.mark.slow
@pytest.mark.parametrize(("name", "objectives"), [("ens", ["psnr_drop_db", "count:restormer"]),
                                                  ("ours", ["psnr_drop_db", "latency_ms"])])  # fmt: skip
def test_each_search_optimised_the_objectives_asked_for(run: Path, name: str, objectives: list[str]) -> None:
    sub = load(run / name / "summary.json")
    assert sub["settings"]["mobo"]["objectives"] == objectives
    assert sub["settings"]["search"] == name
    assert load(run / name / "result.json")["settings"]["objectives"] == objectives
    space = nasbench.load_space("restormer_tiny")
    with (run / name / "history.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 4 and all(objective in rows[0] for objective in objectives)
    if name == "ens":  # the count objective is exact: the number of transformer blocks
        for row in rows:
            labels = space.architecture(row["architecture"]).labels
            assert float(row["count:restormer"]) == sum(lab == "restormer" for lab in labels)


@pytest.mark.slow
def test_the_second_search_reuses_the_first_ones_teacher_and_surrogates(run: Path) -> None:
    assert load(run / "ours" / "summary.json")["settings"]["shared_stages_from"] == "ens"
    for name in ("teacher.pt", "surrogates/surrogates.pt", "saliency.csv"):
        assert (run / "ens" / name).read_bytes() == (run / "ours" / name).read_bytes(), name
    first, second = (load(run / name / "stages.json") for name in ("ens", "ours"))
    for stage in ("teacher", "saliency", "surrogates"):
        assert first[stage] == second[stage]
    # ENS protects no block: every position was searched.
    assert load(run / "ours" / "summary.json")["settings"]["protected"] == []


@pytest.mark.slow
def test_a_finished_run_is_refused_without_resume(run: Path) -> None:
    done = recipe("--output", str(run), *overrides(TINY))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert "holds an earlier run" in done.stderr and "--resume" in done.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("searches={ens: [psnr_drop_db, count:naf]}", "has no block 'naf'"),
        ("searches={ens: [psnr_drop_db]}", "mobo needs at least two objectives"),
        ("searches={ens: psnr_drop_db}", "searches.ens: expected a list of objective names"),
        ("mobo.objectives=[psnr_drop_db, latency_ms]", "set the objectives per search under searches"),
        ("surrogates.fration=0.5", "surrogates.fration: unknown option"),
    ],
)
def test_bad_searches_give_one_line_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, message: str
) -> None:
    assert recipe_module().main(["--output", str(tmp_path), "--no-progress", "--set", setting]) == 2
    err = capsys.readouterr().err
    assert message in err and err.strip().count("\n") == 0
    assert not (tmp_path / "ens").exists()  # refused before the teacher was trained


def test_share_upstream_copies_the_finished_stages(tmp_path: Path) -> None:
    share_upstream = recipe_module().share_upstream
    source, target = tmp_path / "ens", tmp_path / "ours"
    (source / "surrogates").mkdir(parents=True)
    (source / "surrogates" / "surrogates.pt").write_bytes(b"weights")
    (source / "teacher.pt").write_bytes(b"teacher")
    records = {stage: {"stamp": {"n": 1}, "result": {"seconds": 1.0}} for stage in ("teacher", "saliency")}
    (source / "stages.json").write_text(json.dumps(records))
    with pytest.raises(NasbenchError, match="stages surrogates did not finish; nothing to share"):
        share_upstream(source, target)
    assert not (target / "stages.json").exists()
    records["surrogates"] = {"stamp": {}, "result": {}}
    records["compare"] = {"stamp": {}, "result": {}}  # the first search's own: not shared
    (source / "stages.json").write_text(json.dumps(records))
    share_upstream(source, target)
    assert load(target / "stages.json") == {k: records[k] for k in ("teacher", "saliency", "surrogates")}
    assert (target / "surrogates" / "surrogates.pt").read_bytes() == b"weights"
    assert (target / "teacher.pt").read_bytes() == b"teacher"


def test_searches_sharing_a_storage_get_studies_of_their_own() -> None:
    module = recipe_module()
    space = nasbench.load_space("restormer_tiny")

    def study_names(overrides: list[str]) -> dict[str, str | None]:
        cfg, searches = module.split_searches(module.settings("tiny", overrides, None))
        return {n: module.search_settings(space, cfg, n, o)["mobo"].get("study_name") for n, o in searches.items()}

    shared = study_names(["mobo.storage=runs/ens/study.db"])
    assert shared == {"ens": "mobo-restormer_tiny-ens", "ours": "mobo-restormer_tiny-ours"}
    # Each search in its own directory and journal keeps the pipeline's default study name.
    assert study_names([]) == {"ens": None, "ours": None}
