"""The saliency-guided MOBO pipeline end to end at micro settings: artifacts, summary.json, an interrupted
search resumed from its storage, finished stages skipped, settings checks and the selection rule."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from nasbench import NasbenchError, SearchSpace
from nasbench.deploy import fold_batchnorm
from nasbench.errors import ModelError
from nasbench.latency import LatencyTable, Protocol
from nasbench.search import mobo_pipeline as pipeline_module
from nasbench.search.evaluator import TrainingFreeEvaluator
from nasbench.search.mobo_pipeline import (
    front_entries,
    load_teacher,
    mobo_pipeline,
    resolve_settings,
    select_architecture,
)
from nasbench.search.saliency import protect
from nasbench.train import builtin_data, evaluate, save_checkpoint

MICRO_SPACE = {
    "name": "micro",
    "backbone": {"type": "nafnet", "width": 4, "encoder_blocks": [1], "middle_blocks": 1, "decoder_blocks": [1]},
    "candidates": ["naf", "naf_bn", "conv_bn_relu"],
}
EVALUATIONS = 5
INTERRUPT_AT = 4  # the evaluator call that is interrupted: trials 0-2 are complete by then
SETTINGS = {
    "latency_input": [32, 32],
    "data": {"task": "deblur_motion", "crop": 24, "val_max_side": 40, "length": 256},
    "teacher": {"steps": 20, "batch_size": 4},
    "saliency": {"batches": 1, "batch_size": 2},
    "surrogates": {"steps": 5, "batch_size": 2, "eval_batches": 1},
    "mobo": {"n_evaluations": EVALUATIONS, "n_initial": 4, "raw_samples": 32, "restarts": 2, "fit_maxiter": 20},
    "finetune": {"steps": 10, "batch_size": 4},
    "front": {"measure_latency": False},  # exporting every front network is slow; measured in its own test
}
M_KEYS = {"architecture", "params", "macs", "latency_ms", "predicted_latency_ms", "psnr_db", "ssim"}


class Interrupted(TrainingFreeEvaluator):
    """The real evaluator, stopped by a KeyboardInterrupt (as by Ctrl-C) on call ``INTERRUPT_AT``."""

    calls = 0

    def __call__(self, arch):  # noqa: ANN001, ANN204
        type(self).calls += 1
        if type(self).calls == INTERRUPT_AT:
            raise KeyboardInterrupt
        return super().__call__(arch)


class Counting(TrainingFreeEvaluator):
    """The real evaluator, counting the architectures it is asked to score."""

    calls: list[str] = []

    def __call__(self, arch):  # noqa: ANN001, ANN204
        type(self).calls.append(str(arch))
        return super().__call__(arch)


def _mtimes(out: Path) -> dict[str, int]:
    names = ("teacher.pt", "saliency.csv", "surrogates/surrogates.pt", "found.onnx", "baseline.pt")
    return {name: (out / name).stat().st_mtime_ns for name in names if (out / name).exists()}


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return SearchSpace.from_dict(MICRO_SPACE)


@pytest.fixture(scope="module")
def table(space, tmp_path_factory) -> LatencyTable:
    work = tmp_path_factory.mktemp("profile")
    return LatencyTable.profile(space, (32, 32), Protocol(warmup=1, runs=3, rounds=2), work_dir=work, progress=False)


@pytest.fixture(scope="module")
def run(space, table, tmp_path_factory):
    """An interrupted run, then the same run resumed; what each left behind."""
    out = tmp_path_factory.mktemp("deblur")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small networks on a shared 2-core machine: one thread is faster
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pipeline_module, "TrainingFreeEvaluator", Interrupted)
            with pytest.raises(KeyboardInterrupt):
                mobo_pipeline(space, table, SETTINGS, out, progress=False)
        interrupted = {
            "stages": json.loads((out / "stages.json").read_text()),
            "mtimes": _mtimes(out),
            "summary_exists": (out / "summary.json").exists(),
        }
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pipeline_module, "TrainingFreeEvaluator", Counting)
            result = mobo_pipeline(space, table, SETTINGS, out, resume=True, progress=False)
    finally:
        torch.set_num_threads(threads)
    return out, interrupted, result, list(Counting.calls)


def test_an_interrupted_search_keeps_the_finished_stages(run) -> None:
    out, interrupted, _, _ = run
    assert set(interrupted["stages"]) == {"teacher", "saliency", "surrogates"}
    assert not interrupted["summary_exists"]
    for name in ("teacher.pt", "saliency.csv", "saliency.png", "surrogates/surrogates.json", "study.journal"):
        assert (out / name).exists(), name


def test_resume_skips_finished_stages_and_runs_only_the_missing_evaluations(run) -> None:
    out, interrupted, result, calls = run
    assert len(calls) == EVALUATIONS - (INTERRUPT_AT - 1)
    assert len(result.history) == EVALUATIONS
    assert result.summary["settings"]["evaluations_this_run"] == len(calls)
    now = _mtimes(out)
    for name, mtime in interrupted["mtimes"].items():
        assert now[name] == mtime, f"{name} was rewritten on resume"


def test_a_finished_run_resumed_again_recomputes_nothing(run, space, table) -> None:
    out, _, result, _ = run
    before = _mtimes(out)
    Counting.calls.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline_module, "TrainingFreeEvaluator", Counting)
        again = mobo_pipeline(space, table, SETTINGS, out, resume=True, progress=False)
    assert Counting.calls == []
    assert _mtimes(out) == before
    assert again.summary["found"] == result.summary["found"]
    assert again.summary["pareto_front"] == result.summary["pareto_front"]


def test_summary_json_follows_the_api(run, space, table) -> None:
    out, _, result, _ = run
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"baseline", "found", "pareto_front", "settings"}
    assert summary["baseline"]["architecture"] == str(space.baseline())
    assert summary["found"]["architecture"] == str(result.architecture)
    for m in (summary["baseline"], summary["found"], *summary["pareto_front"]):
        assert M_KEYS <= set(m)
        assert isinstance(m["params"], int) and isinstance(m["macs"], int) and m["params"] > 0
        assert math.isfinite(m["psnr_db"]) and 0 < m["ssim"] <= 1
        arch = space.architecture(m["architecture"])
        assert m["predicted_latency_ms"] == pytest.approx(table.predict(space, arch, (32, 32)))
    assert summary["baseline"]["latency_ms"] > 0 and summary["found"]["latency_ms"] > 0
    assert all(m["latency_ms"] is None for m in summary["pareto_front"])  # measure_latency: False
    settings = summary["settings"]
    assert settings["pareto_front_latency"].startswith("not measured")
    assert settings["evaluations"] == EVALUATIONS
    assert "training-free" in settings["pareto_front_quality"]
    teacher = settings["teacher_metrics"]
    assert teacher["source"] == "trained here: 20 steps" and math.isfinite(teacher["input_psnr_db"])
    # Ours by default: the found network fine-tuned from its stitched weights, the baseline from the teacher.
    assert settings["compare"] == {"init": "stitched"}
    assert settings["evaluator"] == {"recalibrate": "on_failure", "calibration_size": 64}
    assert json.loads((out / "stages.json").read_text())["compare"]["stamp"]["init"] == "stitched"


def test_protected_position_keeps_its_original_block_everywhere(run, space) -> None:
    out, _, result, _ = run
    scores = pd.read_csv(out / "saliency.csv", index_col="position")
    protected = result.summary["settings"]["protected"]
    assert protected == protect(scores, 1)
    original = space.position(protected[0]).candidates[0].label
    for row in result.history:
        assert space.architecture(row["architecture"])[protected[0]] == original
    assert result.summary["settings"]["surrogate_positions"] == [
        p.name for p in space.positions if p.name not in protected
    ]


def test_front_holds_the_found_architecture_with_training_free_quality(run) -> None:
    _, _, result, _ = run
    front = {e["architecture"]: e for e in result.summary["pareto_front"]}
    assert str(result.architecture) in front
    chosen = front[str(result.architecture)]
    assert chosen["psnr_drop_db"] == pytest.approx(result.summary["settings"]["found_training_free"]["psnr_drop_db"])
    drops = [e["psnr_drop_db"] for e in result.summary["pareto_front"]]
    latencies = [e["predicted_latency_ms"] for e in result.summary["pareto_front"]]
    assert drops == sorted(drops) and latencies == sorted(latencies, reverse=True)


def test_front_latency_is_measured_together_when_asked(run, space, table) -> None:
    _, _, result, _ = run
    rows = result.pareto_front[:2]
    entries = front_entries(space, table, rows, (32, 32), measure_latency=True)
    assert [e["architecture"] for e in entries] == [r["architecture"] for r in rows]
    assert all(isinstance(e["latency_ms"], float) and e["latency_ms"] > 0 for e in entries)
    assert [e["psnr_db"] for e in entries] == [r["psnr_db"] for r in rows]


def test_found_network_on_disk_gives_the_reported_quality(run, space) -> None:
    out, _, result, _ = run
    model = fold_batchnorm(space.build(result.architecture))
    model.load_state_dict(torch.load(out / "found.pt", weights_only=True))
    _, val = builtin_data(**SETTINGS["data"])
    assert evaluate(model, val)["psnr_db"] == pytest.approx(result.summary["found"]["psnr_db"], abs=1e-6)


def test_teacher_weights_load_back_and_other_weights_are_refused(run, space, tmp_path) -> None:
    out, _, _, _ = run
    teacher = load_teacher(space, out / "teacher.pt")
    saved = torch.load(out / "teacher.pt", weights_only=True)
    assert all(torch.equal(teacher.state_dict()[k], v) for k, v in saved.items())
    other = SearchSpace.from_dict({**MICRO_SPACE, "backbone": {**MICRO_SPACE["backbone"], "width": 8}})
    save_checkpoint(tmp_path / "wide.pt", other.build(other.baseline()).state_dict())
    with pytest.raises(ModelError, match="wide.pt: not the weights of space 'micro'"):
        load_teacher(space, tmp_path / "wide.pt")


def test_a_given_teacher_checkpoint_is_used_instead_of_training(run, space, table, tmp_path) -> None:
    out, _, _, _ = run
    Interrupted.calls = INTERRUPT_AT - 1  # stop at the first evaluation: only the stages before the search run
    settings = {**SETTINGS, "teacher": {"checkpoint": str(out / "teacher.pt")}}
    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(pipeline_module, "TrainingFreeEvaluator", Interrupted)
        mobo_pipeline(space, table, settings, tmp_path, progress=False)
    teacher = json.loads((tmp_path / "stages.json").read_text())["teacher"]["result"]
    assert teacher["source"] == f"checkpoint {out / 'teacher.pt'}" and not (tmp_path / "teacher").exists()
    given, copied = (torch.load(p / "teacher.pt", weights_only=True) for p in (out, tmp_path))
    assert given.keys() == copied.keys() and all(torch.equal(given[k], copied[k]) for k in given)


def test_a_fresh_run_refuses_an_output_holding_a_run(run, space, table) -> None:
    out, _, _, _ = run
    with pytest.raises(NasbenchError, match="holds an earlier run .*pass resume=True"):
        mobo_pipeline(space, table, SETTINGS, out, progress=False)


def test_resume_with_other_settings_for_a_finished_stage_is_refused(run, space, table) -> None:
    out, _, _, _ = run
    changed = {**SETTINGS, "teacher": {"steps": 21, "batch_size": 4}}
    with pytest.raises(NasbenchError, match="stage 'teacher' finished with teacher=.*'steps': 20"):
        mobo_pipeline(space, table, changed, out, resume=True, progress=False)


def test_selection_rule_takes_the_knee_among_fast_enough_front_points(run, table) -> None:
    _, _, result, _ = run
    base = table.predict(result.space, result.space.baseline(), (32, 32))
    speedups = sorted(base / r["latency_ms"] for r in result.pareto_front)
    needed = speedups[len(speedups) // 2]
    row, info = select_architecture(result, table, (32, 32), min_predicted_speedup=needed)
    assert base / row["latency_ms"] >= needed and info["predicted_speedup"] == pytest.approx(base / row["latency_ms"])
    with pytest.warns(RuntimeWarning, match="no Pareto-front point is predicted"):
        fastest, _ = select_architecture(result, table, (32, 32), min_predicted_speedup=speedups[-1] * 2)
    assert base / fastest["latency_ms"] == pytest.approx(speedups[-1])
    knee, info = select_architecture(result, table, (32, 32))
    assert knee["trial"] == info["knee_trial"] == info["trial"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"surrogates": {"fration": 0.2}}, r"surrogates\.fration: unknown option .*did you mean 'fraction'"),
        ({"teacher": {"steps": 5, "checkpoint": "t.pt"}}, "exactly one of steps .* or checkpoint"),
        ({"finetune": {"batch_size": 4}}, "finetune.steps is missing"),
        ({"mobo": {"fixed": ["enc1.0"]}}, r"mobo\.fixed: unknown option"),
        ({"latency_input": [32]}, r"latency_input must be \[H, W\]"),
        ({"serach": {}}, "unknown key 'serach'"),
        ({"compare": {"init": "teacher"}}, "compare.init must be one of stitched, scratch, got 'teacher'"),
        ({"evaluator": {"recalibrate": "sometimes"}}, "evaluator.recalibrate must be one of on_failure, always, never"),
    ],
)
def test_bad_settings_name_the_key(change, message) -> None:
    with pytest.raises(NasbenchError, match=message):
        resolve_settings({**SETTINGS, **change})
