"""Every recipe in examples/ runs end to end at smoke size and writes the API.md summary.json.

Each recipe runs as a real subprocess with ``--scale tiny`` plus ``--set`` overrides that shrink steps,
crops, evaluations and the latency size (a size with a shipped latency table) — the same code path as a
real run, a few steps long. (The ENS and LiteDenoiseNet recipes have their own tests: test_reproduce_ens.py,
test_lite_denoise_recipe.py, which runs both of the latter's scales.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
M_KEYS = {"architecture", "params", "macs", "latency_ms", "predicted_latency_ms", "psnr_db", "ssim"}

SMOKE: dict[str, list[str]] = {
    "reproduce_ern_net.py": [
        "latency_input=[64, 64]",
        "data.crop=32",
        "data.length=64",
        "data.val_max_side=64",
        "darts.steps=3",
        "darts.warmup_steps=1",
        "darts.batch_size=2",
        "finetune.steps=2",
        "finetune.batch_size=2",
    ],
    "reproduce_deblur_mobo.py": [
        "latency_input=[64, 64]",
        "data.crop=32",
        "data.length=64",
        "data.val_max_side=64",
        "teacher.steps=3",
        "teacher.batch_size=2",
        "saliency.batches=1",
        "saliency.batch_size=2",
        "surrogates.steps=2",
        "surrogates.batch_size=2",
        "mobo.n_evaluations=4",
        "mobo.n_initial=4",
        "finetune.steps=2",
        "finetune.batch_size=2",
    ],
}

# One override per recipe that summary.json must record: (keys..., value).
RECORDED = {
    "reproduce_ern_net.py": ("darts", "steps", 3),
    "reproduce_deblur_mobo.py": ("mobo", "n_evaluations", 4),
}


def run_recipe(script: str, output: Path) -> dict:
    args = [sys.executable, str(ROOT / "examples" / script), "--scale", "tiny", "--output", str(output)]
    for item in SMOKE[script]:
        args += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    run = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, f"{script} failed (exit {run.returncode}):\n{run.stderr[-4000:]}"
    return json.loads((output / "summary.json").read_text())


def check_model(entry: dict, where: str) -> None:
    missing = M_KEYS - entry.keys()
    assert not missing, f"{where}: summary entry lacks {sorted(missing)}"
    assert entry["params"] > 0 and entry["macs"] > 0, where
    assert entry["latency_ms"] > 0 and entry["predicted_latency_ms"] > 0, where
    assert 0 < entry["psnr_db"] < 100 and -1 <= entry["ssim"] <= 1, where


@pytest.mark.slow  # 20-40 s of CPU per recipe: a real subprocess through every stage
@pytest.mark.parametrize("script", sorted(SMOKE))
def test_recipe_runs_and_writes_the_summary(script: str, tmp_path: Path) -> None:
    summary = run_recipe(script, tmp_path / "out")
    for name in ("baseline", "found"):
        check_model(summary[name], f"{script}: {name}")
    assert isinstance(summary["settings"], dict) and summary["settings"], script
    assert summary["settings"].get("scale") == "tiny", script
    # a smoke run must be fast because of the overrides, not because one was silently ignored
    node = summary["settings"]
    *path, expected = RECORDED[script]
    for key in path:
        node = node[key]
    assert node == expected, f"{script}: settings.{'.'.join(path)} = {node!r}, expected {expected!r}"
    for i, point in enumerate(summary.get("pareto_front") or []):
        assert {"architecture", "predicted_latency_ms", "psnr_db"} <= point.keys(), f"{script}: front point {i}"
