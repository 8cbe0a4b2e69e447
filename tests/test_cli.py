"""The command line: results, --json, and one-line errors with a non-zero exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nasbench.cli import main

BAD = Path(__file__).parent / "space" / "bad_yaml" / "unknown_block.yaml"


def test_spaces_and_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spaces", "--json"]) == 0
    assert "nafnet_sidd" in json.loads(capsys.readouterr().out)
    assert main(["models"]) == 0
    assert "lite_denoise_net" in capsys.readouterr().out.split()


def test_count_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["count", "--space", "lite_denoise", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["params"] == 1_963_411 and result["macs"] > 0


def test_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny.onnx"
    assert main(["export", "--space", "lite_denoise", "--output", str(out), "--input-size", "32", "32", "--json"]) == 0
    assert out.exists() and json.loads(capsys.readouterr().out)["max_abs_diff"] <= 1e-4


def test_bad_input_is_one_line_without_traceback() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "nasbench.cli", "space", "--space", str(BAD)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"nasbench space: error: {BAD}: candidates.1: unknown block 'nafbn'")
    assert "Traceback" not in run.stderr


def test_bad_architecture_string(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["count", "--space", "nafnet_tiny", "--arch", "enc1:nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench count: error: architecture string: stage 'enc2' has 1 positions, got 0 labels")


def test_debug_shows_the_exception() -> None:
    with pytest.raises(Exception, match="unknown block 'nafbn'"):
        main(["space", "--space", str(BAD), "--debug"])


def test_latency_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "t.yaml"
    args = ["--space", "nafnet_tiny", "--input-size", "32", "32", "--output", str(table)]
    assert main(["profile", *args, "--runs", "1", "--rounds", "1", "--warmup", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["blocks"] == 20
    report = tmp_path / "val"
    assert (
        main(
            [
                "latency",
                "validate",
                "--space",
                "nafnet_tiny",
                "--table",
                str(table),
                "--n",
                "2",
                "--output",
                str(report),
                "--runs",
                "1",
                "--rounds",
                "1",
            ]
        )
        == 0
    )
    assert (report / "validation.csv").exists() and (report / "validation.png").exists()


def test_check_ops_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lite, naf = tmp_path / "lite.onnx", tmp_path / "naf.onnx"
    main(["export", "--space", "lite_denoise", "--output", str(lite), "--input-size", "32", "32"])
    main(["export", "--space", "nafnet_tiny", "--output", str(naf), "--input-size", "32", "32"])
    capsys.readouterr()
    assert main(["check-ops", str(lite)]) == 0
    assert main(["check-ops", str(naf), "--allowed", "npu_native"]) == 1
    assert "op ReduceMean not allowed" in capsys.readouterr().out
    assert main(["check-ops", str(naf), "--allowed", "npu_nativ"]) == 2


def test_restore_command(tmp_path: Path) -> None:
    import numpy as np
    from skimage import io

    image = (np.random.default_rng(0).random((40, 30, 3)) * 255).astype(np.uint8)
    io.imsave(tmp_path / "in.png", image, check_contrast=False)
    out = tmp_path / "out.png"
    args = [
        "restore",
        str(tmp_path / "in.png"),
        str(out),
        "--model",
        "lite_denoise_net",
        "--tile",
        "32",
        "--overlap",
        "8",
    ]
    assert main(args) == 0
    assert io.imread(out).shape == (40, 30, 3)
    assert main(["restore", str(tmp_path / "missing.png"), str(out), "--model", "lite_denoise_net"]) == 2


def test_saliency_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["saliency", "--space", "nafnet_tiny", "--output", str(tmp_path), "--crop", "32", "--batch-size", "2"]
    assert main([*args, "--metrics", "snip", "synflow"]) == 2  # untrained without --skip-init: refused
    assert "--weights of a trained network, or --skip-init" in capsys.readouterr().err
    assert main([*args, "--metrics", "snip", "synflow", "--skip-init", "1.0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["protected"]) == 1
    assert (tmp_path / "saliency.csv").exists() and (tmp_path / "saliency.png").exists()
    torch_state = tmp_path / "bad.pt"
    torch.save({"x": torch.zeros(1)}, torch_state)
    assert main([*args, "--weights", str(torch_state)]) == 2
    assert "do not fit the baseline of 'nafnet_tiny'" in capsys.readouterr().err


def test_help_on_every_level_shows_examples(capsys: pytest.CaptureFixture[str]) -> None:
    from nasbench.cli import _COMMANDS

    groups = {name.split()[0] for name in _COMMANDS if " " in name}
    for argv in [[], *([g] for g in groups), *(name.split() for name in _COMMANDS)]:
        with pytest.raises(SystemExit) as exit_info:
            main([*argv, "--help"])
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        assert "examples:\n  nasbench " in out, argv


def test_settings_from_file_flags_and_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("darts: {steps: 40}\nfinetune: {steps: 30}\n")
    argv = ["quickstart", "--config", str(config), "--set", "darts.mu=1.0", "--show-settings", "--json"]
    assert main(argv) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["darts"]["steps"] == 40 and shown["darts"]["mu"] == 1.0 and shown["darts"]["warmup_steps"] == 40
    assert shown["finetune"] == {"steps": 30, "batch_size": 8, "lr": 1e-3}
    assert main(["quickstart", "--engine", "mobo", "--set", "mobo.n_evaluations=5", "--show-settings", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mobo"]["n_evaluations"] == 5
    config.write_text("darts: {stepz: 40}\n")
    assert main(["quickstart", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"nasbench quickstart: error: {config}: settings: darts.stepz: unknown")
    assert "(known: alpha_lr," in err[0] and "did you mean 'steps'" in err[0]
    table = "nasbench/profiles/tables/nafnet_tiny_64_t1.yaml"
    mobo = ["search", "mobo", "--space", "nafnet_tiny", "--table", table, "--output", str(tmp_path / "m")]
    assert main([*mobo, "--n-trials", "7", "--storage", "s.db", "--show-settings", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mobo"] == {"n_evaluations": 7, "n_initial": 8, "storage": "s.db"}
    assert main([*mobo, "--set", "mobo.n_evaluation=3"]) == 2
    assert "--set mobo.n_evaluation=3: settings: mobo.n_evaluation: unknown option" in capsys.readouterr().err


def test_latency_calibrate_refuses_an_unknown_grouping_in_one_line(tmp_path, capsys) -> None:
    table = "nasbench/profiles/tables/nafnet_tiny_64_t1.yaml"
    out = tmp_path / "c.yaml"
    args = [
        "latency",
        "calibrate",
        "--space",
        "nafnet_tiny",
        "--table",
        table,
        "--grouping",
        "nope",
        "--output",
        str(out),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "nasbench latency calibrate: error: calibrate: unknown correction grouping 'nope' (known: block, block_level)"
    ]
    assert not out.exists()


TINY_MOBO = """\
data: {task: denoise, sigma: 25, crop: 16, val_max_side: 32}
teacher: {steps: 2, batch_size: 2}
saliency: {protect: 9, batches: 1, batch_size: 2}
surrogates: {steps: 1, batch_size: 2, eval_batches: 1}
mobo: {n_initial: 2}
finetune: {steps: 1, batch_size: 2}
"""


@pytest.mark.slow  # the whole tiny MOBO pipeline: teacher, saliency, surrogates, 3 evaluations, comparison
def test_search_mobo_with_a_sqlite_storage_then_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import optuna

    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_MOBO)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        table = "nasbench/profiles/tables/nafnet_tiny_64_t1.yaml"
        argv = ["search", "mobo", "--space", "nafnet_tiny", "--table", table]
        argv += ["--output", str(tmp_path / "run"), "--config", str(config), "--storage", storage]
        assert main([*argv, "--n-trials", "3", "--json"]) == 0
    finally:
        torch.set_num_threads(threads)
    summary = json.loads(capsys.readouterr().out)
    assert summary["settings"]["mobo"]["storage"] == storage
    study = optuna.load_study(study_name="mobo-nafnet_tiny", storage=storage)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == summary["settings"]["evaluations"] == 3
    assert not (tmp_path / "run" / "study.journal").exists()  # the study lives in the given storage
    assert main(["report", str(tmp_path / "run"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert Path(report["report"]).is_file() and "pareto" in report["sections"] and "alpha" in report["omitted"]


def test_finetune_then_distill(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny = ["--crop", "16", "--steps", "2", "--batch-size", "2", "--set", "data.val_max_side=32"]
    assert main(["finetune", "--space", "nafnet_tiny", "--output", str(tmp_path / "ft"), *tiny, "--json"]) == 0
    ft = json.loads(capsys.readouterr().out)
    assert ft["steps"] == 2 and ft["psnr_db"] > 0 and Path(ft["weights"]).is_file()
    assert (tmp_path / "ft" / "last.pt").is_file() and (tmp_path / "ft" / "model.json").is_file()
    teacher = ["--teacher-space", "nafnet_tiny", "--teacher-weights", ft["weights"]]
    argv = ["distill", *teacher, "--student", "lite_denoise_net", "--output", str(tmp_path / "kd"), *tiny]
    assert main([*argv, "--alpha", "0.5", "--json"]) == 0
    kd = json.loads(capsys.readouterr().out)
    assert kd["steps"] == 2 and kd["teacher_metrics"]["psnr_db"] == pytest.approx(ft["psnr_db"], abs=1e-6)
    assert (tmp_path / "kd" / "student.pt").is_file()
    # a second run into the same directory is refused unless resumed; resuming a finished run trains nothing
    assert main([*argv, "--alpha", "0.5"]) == 2
    assert "a checkpoint exists; pass resume=True" in capsys.readouterr().err
    assert main([*argv, "--alpha", "0.5", "--resume", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 2


def test_training_commands_refuse_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = ["--output", str(tmp_path)]
    cases = [
        (["distill", "--teacher", "nafnet_tiny", "--student", "lite_denoise_net", *out], "give --teacher-weights"),
        (["finetune", "--model", "nafnet_tiny", "--space", "nafnet_tiny", *out], "give exactly one of --model MODEL"),
        (["finetune", "--model", "nafnet_tin", *out], "nafnet_tin"),
        (["finetune", "--space", "nafnet_tiny", "--set", "finetune.lr_=1", *out], "finetune.lr_: unknown option"),
        (["report", str(tmp_path)], "no summary.json — not a finished run"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (argv, err)
