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
