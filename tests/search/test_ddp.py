"""DARTS under torchrun with two real processes (gloo on CPU): α stays identical on every rank."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("ddp_darts.py")


def test_two_process_darts_keeps_alpha_identical(toy_table, tmp_path) -> None:
    table = toy_table.save(tmp_path / "table.yaml")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(SCRIPT),
            str(tmp_path),
            str(table),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for mode in ("all", "sampled"):
        ranks = [torch.load(tmp_path / f"{mode}_rank{r}.pt", weights_only=True) for r in (0, 1)]
        assert ranks[0]["world"] == 2
        assert ranks[0]["alphas"] == ranks[1]["alphas"], mode  # bitwise-equal probabilities on both ranks
        assert ranks[0]["architecture"] == ranks[1]["architecture"]
        assert (tmp_path / mode / "darts-checkpoint.pt").exists()


@pytest.mark.parametrize("mode", ["all", "sampled"])
def test_alpha_moved(toy_table, tmp_path, mode) -> None:
    """Guard against a test that passes because nothing happened: α must have left its initial zeros."""
    from nasbench import SearchSpace
    from nasbench.search import darts
    from nasbench.train import CropDataset, builtin_images

    sys.path.insert(0, str(SCRIPT.parent))
    from ddp_darts import SPACE

    data = CropDataset(builtin_images("train"), crop=16, degradation="noise", length=64, seed=0)
    result = darts(
        SearchSpace.from_dict(SPACE),
        data,
        toy_table,
        steps=8,
        warmup_steps=2,
        batch_size=2,
        alpha_lr=0.05,
        mode=mode,
        progress=False,
    )
    probs = [v for k, v in result.history[-1].items() if k.startswith("p/")]
    assert max(abs(p - 1 / 3) for p in probs) > 1e-3
