"""nasbench.train.loop: fine-tuning a real tiny network, exact resume, NaN stops, schedule, losses."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nasbench.train.checkpoint import load_checkpoint
from nasbench.train.data import CropDataset, builtin_images, validation_pairs
from nasbench.train.errors import TrainingError
from nasbench.train.loop import StepBatches, finetune, list_losses, lr_factor, psnr_loss
from nasbench.train.metrics import psnr_db

ModelFactory = Callable[[int], nn.Module]


@pytest.fixture(scope="module")
def crops() -> CropDataset:
    return CropDataset(builtin_images("train"), 32, "noise", length=256, seed=0)


@pytest.fixture(scope="module")
def val() -> list[tuple[torch.Tensor, torch.Tensor]]:
    return validation_pairs(builtin_images("val"), "noise", max_side=48)


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_loss_decreases_on_a_tiny_network(tiny_model: ModelFactory, crops: CropDataset, val: list) -> None:
    log: list[dict[str, float]] = []
    result = finetune(
        tiny_model(0), crops, val, steps=30, batch_size=4, lr=3e-3, eval_every=15, progress=False, log=log
    )
    losses = result.losses
    assert len(losses) == 30 and log == result.history
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    assert [h["step"] for h in result.history if "psnr_db" in h] == [15, 30]
    assert set(result.metrics) == {"psnr_db", "ssim", "input_psnr_db"}
    assert result.history[-1]["psnr_db"] == result.metrics["psnr_db"]
    assert result.checkpoint is None


def test_resume_is_bitwise_identical(tmp_path: Path, tiny_model: ModelFactory, crops: CropDataset) -> None:
    settings = {"steps": 6, "batch_size": 2, "checkpoint_every": 3, "seed": 5, "warmup_steps": 2, "progress": False}
    straight = finetune(tiny_model(0), crops, checkpoint_dir=tmp_path / "straight", **settings)

    class Interrupted(Exception):
        pass

    def interrupt(entry: dict[str, float]) -> None:
        if entry["step"] == 4:
            raise Interrupted

    with pytest.raises(Interrupted):
        finetune(tiny_model(0), crops, checkpoint_dir=tmp_path / "resumed", log=interrupt, **settings)
    assert load_checkpoint(tmp_path / "resumed" / "last.pt")["step"] == 3

    # A differently initialised model: everything it ends with must come from the checkpoint.
    resumed = finetune(tiny_model(1), crops, checkpoint_dir=tmp_path / "resumed", resume=True, **settings)
    assert _same_weights(straight.model, resumed.model)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in straight.history]
    assert resumed.checkpoint == tmp_path / "resumed" / "last.pt"
    assert load_checkpoint(resumed.checkpoint)["step"] == 6


def test_resume_guards(tmp_path: Path, tiny_model: ModelFactory, crops: CropDataset) -> None:
    finetune(tiny_model(0), crops, steps=2, batch_size=2, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(TrainingError, match="last.pt: a checkpoint exists; pass resume=True"):
        finetune(tiny_model(0), crops, steps=2, batch_size=2, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(TrainingError, match="the checkpoint has batch_size=2 but this call batch_size=4"):
        finetune(tiny_model(0), crops, steps=2, batch_size=4, checkpoint_dir=tmp_path, resume=True, progress=False)
    with pytest.raises(TrainingError, match="resume=True needs a checkpoint_dir"):
        finetune(tiny_model(0), crops, steps=2, resume=True, progress=False)
    # A finished run resumes to itself.
    done = finetune(tiny_model(1), crops, steps=2, batch_size=2, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert len(done.history) == 2


class _NaNAt(nn.Module):
    """Wraps a network; its forward pass number ``at`` (1-based) returns NaN."""

    def __init__(self, inner: nn.Module, at: int) -> None:
        super().__init__()
        self.inner, self.at, self.calls = inner, at, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = self.inner(x)
        return out * float("nan") if self.calls == self.at else out


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(
    tmp_path: Path, tiny_model: ModelFactory, crops: CropDataset
) -> None:
    model = _NaNAt(tiny_model(0), at=5)
    path = tmp_path / "last.pt"
    expected = f"step 5: loss is nan; last good checkpoint: {path}"
    with pytest.raises(TrainingError, match=f"^{re.escape(expected)}$"):
        finetune(model, crops, steps=10, batch_size=2, checkpoint_every=2, checkpoint_dir=tmp_path, progress=False)
    kept = load_checkpoint(path)
    assert kept["step"] == 4 and len(kept["history"]) == 4
    assert all(torch.isfinite(v).all() for v in kept["model"].values() if v.is_floating_point())


def test_nan_gradient_stops(tiny_model: ModelFactory, crops: CropDataset) -> None:
    model = tiny_model(0)
    steps_seen = []

    def poison(grad: torch.Tensor) -> torch.Tensor:
        steps_seen.append(1)
        return grad * float("nan") if len(steps_seen) == 3 else grad

    model.intro.weight.register_hook(poison)
    with pytest.raises(TrainingError, match=r"^step 3: gradient norm is nan; last good checkpoint: none"):
        finetune(model, crops, steps=5, batch_size=2, progress=False)


def test_step_batches_depend_on_seed_and_step_only() -> None:
    whole = list(StepBatches(size=10, batch_size=4, seed=3, steps=7))
    assert list(StepBatches(size=10, batch_size=4, seed=3, steps=7, first=5)) == whole[4:]
    flat = [i for batch in whole for i in batch]
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:20]) == list(range(10))  # epochs cover all
    assert list(StepBatches(size=10, batch_size=4, seed=4, steps=7)) != whole


def test_lr_schedule() -> None:
    assert lr_factor(0, 100) == 1.0
    assert lr_factor(50, 100) == pytest.approx(0.5 * (1 + 1e-3))
    assert lr_factor(100, 100) == pytest.approx(1e-3)
    assert [lr_factor(s, 100, warmup_steps=4) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    factors = [lr_factor(s, 50, 5) for s in range(5, 50)]
    assert all(a > b for a, b in zip(factors, factors[1:]))


def test_history_records_the_learning_rate(tiny_model: ModelFactory, crops: CropDataset) -> None:
    result = finetune(tiny_model(0), crops, steps=3, batch_size=2, lr=2e-3, grad_clip=0.1, progress=False)
    assert [h["lr"] for h in result.history] == pytest.approx([2e-3 * lr_factor(s, 3) for s in range(3)])


def test_losses() -> None:
    assert {"l1", "l2", "mse", "psnr"} <= set(list_losses())
    target = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    pred = (target + 0.05 * torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert psnr_loss(pred, target).item() == pytest.approx(-psnr_db(pred, target), abs=1e-3)
    with pytest.raises(TrainingError, match=r"unknown loss 'l3' \(known: l1, l2, lite_denoise, mse, psnr\)"):
        finetune(nn.Conv2d(3, 3, 1), [(target[0], target[0])], steps=1, loss="l3", progress=False)


@pytest.mark.parametrize("loss", ["l2", "psnr"])
def test_other_losses_train(tiny_model: ModelFactory, crops: CropDataset, loss: str) -> None:
    result = finetune(tiny_model(0), crops, steps=2, batch_size=2, loss=loss, progress=False)
    assert all(math.isfinite(v) for v in result.losses)
