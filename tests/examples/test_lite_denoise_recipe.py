"""examples/reproduce_lite_denoise.py end to end as a subprocess, shrunk by ``--set`` to a few steps on
16–24 px crops: the teacher / distilled / clean-only entries, equal student budgets, the gap-closed figure,
latency predicted at a size without a shipped table (profiled), students trained in two worker processes
equal to students trained in one, and the NPU-native check; and ``--scale paper`` shrunk the same way, with
its HeavyDenoiseNet teacher. (Generic recipe smoke tests live in test_examples_smoke.py.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from nasbench.train.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "examples" / "reproduce_lite_denoise.py"
SHRINK = [
    "teacher.steps=4",
    "teacher.crop=16",
    "teacher.batch_size=2",
    "students.steps=4",
    "students.crop_schedule=[[2, 16, 2], [4, 24, 2]]",
    "data.val_max_side=32",
    "latency.input=[32, 32]",
    "latency.protocol={warmup: 1, runs: 2, rounds: 1}",
]
ENTRY_KEYS = {"architecture", "params", "macs", "latency_ms", "predicted_latency_ms", "psnr_db", "ssim"}


def _recipe(output: Path, *overrides: str, scale: str = "tiny") -> subprocess.CompletedProcess[str]:
    args = [arg for item in overrides for arg in ("--set", item)]
    return subprocess.run(
        [sys.executable, str(RECIPE), "--scale", scale, "--output", str(output), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # the paper scale leaves torch's thread count alone
        timeout=600,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, dict[str, Any], str]:
    out = tmp_path_factory.mktemp("lite_recipe")
    done = _recipe(out, *SHRINK)
    assert done.returncode == 0, done.stderr[-2000:]
    return out, json.loads((out / "summary.json").read_text()), done.stdout


def test_summary_has_the_three_networks_and_the_api_names(run) -> None:
    _, summary, _ = run
    for name in ("teacher", "student_kd", "student_clean"):
        assert set(summary[name]) == ENTRY_KEYS, name
        assert summary[name]["latency_ms"] > 0 and 0 < summary[name]["ssim"] <= 1
    assert summary["found"] == summary["student_kd"] and summary["baseline"] == summary["student_clean"]
    assert summary["student_kd"]["architecture"] == summary["student_clean"]["architecture"] == "lite_denoise_net"
    assert summary["student_kd"]["params"] == 1_963_411
    settings = summary["settings"]
    assert settings["npu_native_violations"] == 0 and settings["scale"] == "tiny"
    assert settings["students"]["steps"] == 4 and settings["teacher"]["steps"] == 4
    assert settings["students"]["processes"] == 2
    for phase in ("latency_table_s", "teacher_s", "students_s", "student_kd_s", "student_clean_s", "evaluation_s"):
        assert settings[phase] >= 0, phase


def test_every_network_of_the_space_is_priced_by_a_table_profiled_at_an_unshipped_size(run) -> None:
    out, summary, _ = run
    # No table is shipped at 32 px, so the recipe profiles one with the timing protocol (1 thread).
    assert summary["settings"]["latency_table"].startswith("profiled in ")
    assert (out / "profile" / "profile-checkpoint.json").exists()
    predicted = {name: summary[name]["predicted_latency_ms"] for name in ("teacher", "student_kd", "student_clean")}
    assert all(isinstance(ms, float) and ms > 0 for ms in predicted.values()), predicted
    # The tiny teacher is LiteDenoiseNet, the space's baseline, as are the students: one price for all three.
    assert predicted["teacher"] == predicted["student_kd"] == predicted["student_clean"]


def test_gap_closed_is_reported_consistently(run) -> None:
    _, summary, stdout = run
    teacher, kd, clean = (summary[n]["psnr_db"] for n in ("teacher", "student_kd", "student_clean"))
    assert summary["gap_db"] == pytest.approx(teacher - clean)
    assert summary["kd_gain_db"] == pytest.approx(kd - clean)
    if teacher > clean:
        assert summary["gap_closed"] == pytest.approx((kd - clean) / (teacher - clean))
        assert f"gap closed by distillation: {100 * summary['gap_closed']:.0f} %" in stdout
    else:
        assert summary["gap_closed"] is None
        assert "gap closed by distillation: n/a (the teacher is" in stdout


def test_students_have_equal_budgets_and_only_the_kd_one_sees_the_teacher(run) -> None:
    out, _, _ = run
    kd, clean = (load_checkpoint(out / name / "last.pt") for name in ("student_kd", "student_clean"))
    assert kd["settings"]["alpha"] == 0.9 and clean["settings"]["alpha"] == 0.0
    for key in ("steps", "schedule", "lr", "seed", "loss"):
        assert kd["settings"][key] == clean["settings"][key], key
    for state in (kd, clean):
        assert [e["crop"] for e in state["history"]] == [16, 16, 24, 24]
    assert all("loss_teacher" in e for e in kd["history"])
    assert not any("loss_teacher" in e for e in clean["history"])
    teacher = load_checkpoint(out / "teacher" / "last.pt")
    assert teacher["step"] == 4 and teacher["settings"]["loss"] == "lite_denoise"
    for name in ("teacher.pt", "student_kd.pt", "student_clean.pt", "student_kd.onnx"):
        assert (out / name).exists(), name


@pytest.mark.slow  # a second (shrunk) recipe run
def test_students_trained_one_after_the_other_equal_those_trained_in_two_processes(run, tmp_path) -> None:
    out, summary, _ = run
    for done in ("teacher", "profile"):  # reuse the trained teacher and the profiled table
        shutil.copytree(out / done, tmp_path / done)
    sequential = _recipe(tmp_path, *SHRINK, "students.processes=1")
    assert sequential.returncode == 0, sequential.stderr[-2000:]
    again = json.loads((tmp_path / "summary.json").read_text())
    for name in ("teacher", "student_kd", "student_clean"):
        ours, theirs = (torch.load(d / f"{name}.pt", weights_only=True) for d in (out, tmp_path))
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), name
        assert again[name]["psnr_db"] == summary[name]["psnr_db"], name
    assert again["settings"]["latency_table"] == f"profiled in {tmp_path / 'profile'}"


def test_bad_process_count_is_one_line(tmp_path) -> None:
    done = _recipe(tmp_path, "students.processes=0")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "reproduce_lite_denoise: error: settings: students.processes: must be an integer ≥ 1, got 0"
    ]


def test_misspelt_setting_is_one_line_without_traceback(tmp_path) -> None:
    done = _recipe(tmp_path, "students.stpes=5")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "reproduce_lite_denoise: error: --set students.stpes=5: settings: students.stpes: unknown option "
        "(known: alpha, architecture, cache, crop_schedule, feature_loss, feature_weight, features, lr, "
        "processes, space, steps, teacher_loss); "
        "did you mean 'steps'?"
    ]


# --scale paper keeps its teacher (HeavyDenoiseNet, 41.6 M parameters), its lr, its one process and its latency
# size's shipped table at 256 px; only steps, crops and the timing protocol shrink.
PAPER_SHRINK = [
    "data.val_max_side=64",
    "teacher.steps=2",
    "teacher.crop=32",
    "teacher.batch_size=2",
    "students.steps=2",
    "students.crop_schedule=[[1, 16, 2], [2, 24, 1]]",
    "latency.input=[256, 256]",
    "latency.protocol={warmup: 0, rounds: 1, runs: 1}",
]


@pytest.mark.slow  # a third recipe run; most of it times HeavyDenoiseNet at 256 px in onnxruntime (≈ 2 s a run)
def test_paper_scale_runs_with_the_heavy_teacher(tmp_path) -> None:
    done = _recipe(tmp_path, *PAPER_SHRINK, scale="paper")
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    teacher, kd, clean = (summary[n] for n in ("teacher", "student_kd", "student_clean"))
    assert teacher["architecture"] == "heavy_denoise_net" and teacher["params"] == 41_604_998
    assert kd["params"] == clean["params"] == 1_963_411
    assert teacher["predicted_latency_ms"] is None  # not an architecture of the students' space
    assert kd["predicted_latency_ms"] == clean["predicted_latency_ms"] > 0
    assert teacher["latency_ms"] > 5 * kd["latency_ms"]  # 21x the parameters, measured in the same run
    settings = summary["settings"]
    assert settings["scale"] == "paper" and settings["latency_table"] == "lite_denoise_256_t1.yaml"
    assert settings["students"]["lr"] == 0.0001 and settings["students"]["processes"] == 1
    assert settings["npu_native_violations"] == 0
    kd_state = load_checkpoint(tmp_path / "student_kd" / "last.pt")
    assert [e["crop"] for e in kd_state["history"]] == [16, 24]
    assert kd_state["settings"]["alpha"] == 0.9
