"""Numerical faults: a NaN or Inf injected into the loss or into the gradients of a training step stops
finetune, distill, darts and distill_surrogates with a one-line TrainingError naming the step and the last
good checkpoint; that checkpoint is left as it was (the step before the fault's interval, finite weights, no
temporary file) and a run resumed from it, once the fault is gone, finishes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import killable
import pytest
import torch
import torch.nn.functional as F

import nasbench
from nasbench.latency import LatencyTable
from nasbench.search import darts
from nasbench.search.darts import CHECKPOINT as DARTS_CHECKPOINT
from nasbench.search.surrogates import CHECKPOINT_NAME as SURROGATES_CHECKPOINT
from nasbench.search.surrogates import distill_surrogates
from nasbench.train import TrainingError, distill, finetune, load_checkpoint, loop
from nasbench.train.loop import CHECKPOINT_NAME

STEPS, EVERY = 8, 3  # checkpoints after steps 3 and 6; the fault comes in step 8 (1-based)


class _Scale(torch.autograd.Function):
    """Identity forward; the backward pass multiplies the gradient by ``factor`` (NaN or Inf)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, factor: float) -> torch.Tensor:
        ctx.factor = factor  # type: ignore[attr-defined]
        return x.view_as(x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * ctx.factor, None  # type: ignore[attr-defined]


class PoisonedL1:
    """L1 loss whose call number ``at`` (1-based) returns ``value`` times the loss (``where="loss"``) or the
    plain loss with ``value`` times its gradient (``where="grad"``). ``at=None`` disarms it."""

    def __init__(self, at: int | None, where: str, value: float) -> None:
        self.at, self.where, self.value, self.calls = at, where, value, 0

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        loss = F.l1_loss(pred, target)
        if self.calls != self.at:
            return loss
        return loss * self.value if self.where == "loss" else _Scale.apply(loss, self.value)


FAULTS = [("loss", math.inf), ("grad", math.nan)]  # NaN losses and Inf gradients: tests/train, test_darts
FAULT_IDS = [f"{where}-{value}" for where, value in FAULTS]


def _kept(path: Path, step: int) -> None:
    """The last good checkpoint is intact: it loads, holds ``step`` and only finite tensors; no temp file."""
    state = load_checkpoint(path)
    assert state["step"] == step

    def tensors(value: object) -> list[torch.Tensor]:
        if isinstance(value, torch.Tensor):
            return [value]
        if isinstance(value, dict):
            return [t for v in value.values() for t in tensors(v)]
        return [t for v in value for t in tensors(v)] if isinstance(value, list | tuple) else []

    assert all(torch.isfinite(t).all() for t in tensors(state) if t.is_floating_point())
    assert not list(path.parent.glob("*.tmp"))


def _expected(prefix: str, where: str, value: float, checkpoint: Path) -> str:
    """The regex of the whole message. An Inf gradient may arrive as NaN (Inf − Inf inside a norm layer)."""
    what = "loss" if where == "loss" else "gradient norm"
    shown = "nan" if math.isnan(value) else "inf" if where == "loss" else "(?:inf|nan)"
    return f"^{re.escape(prefix)}{what} is {shown}; last good checkpoint: {re.escape(str(checkpoint))}$"


@pytest.mark.parametrize(("where", "value"), FAULTS, ids=FAULT_IDS)
def test_finetune(where: str, value: float, tmp_path: Path) -> None:
    loss = PoisonedL1(STEPS, where, value)  # one loss call per step

    def train(model_seed: int, resume: bool) -> loop.FinetuneResult:
        kwargs = {"checkpoint_dir": tmp_path, "checkpoint_every": EVERY, "progress": False}
        return finetune(killable._network(model_seed), killable._crops(), steps=9, batch_size=2, loss=loss,
                        resume=resume, **kwargs)  # fmt: skip

    with pytest.raises(TrainingError, match=_expected(f"step {STEPS}: ", where, value, tmp_path / CHECKPOINT_NAME)):
        train(0, resume=False)
    _kept(tmp_path / CHECKPOINT_NAME, 6)
    loss.at = None
    assert len(train(1, resume=True).history) == 9


@pytest.mark.parametrize(("where", "value"), FAULTS, ids=FAULT_IDS)
def test_distill(where: str, value: float, tmp_path: Path) -> None:
    loss = PoisonedL1(STEPS, where, value)  # the clean term: one call per step (the teacher term is l1)

    def train(resume: bool) -> loop.FinetuneResult:
        return distill(
            killable._network(0), killable._network(1), killable._crops(), steps=9, batch_size=2, loss=loss,
            teacher_loss="l1", checkpoint_dir=tmp_path, checkpoint_every=EVERY, resume=resume, progress=False,
        )  # fmt: skip

    with pytest.raises(TrainingError, match=_expected(f"step {STEPS}: ", where, value, tmp_path / CHECKPOINT_NAME)):
        train(resume=False)
    _kept(tmp_path / CHECKPOINT_NAME, 6)
    loss.at = None
    assert len(train(resume=True).history) == 9


DARTS_FAULTS = {
    # id: (loss call to poison, how, value, message); warm-up steps 0-1 call the loss once (weights),
    # later steps twice (weights, then α). darts counts its steps from 0: step 7 is the 8th.
    "weight-grad-nan": (2 + 2 * 5 + 1, "grad", math.nan, "the weight gradient"),
    "arch-grad-inf": (2 + 2 * 5 + 2, "grad", math.inf, "the architecture gradient"),
}


@pytest.fixture(scope="module")
def tiny_table() -> LatencyTable:
    return LatencyTable.load(Path(nasbench.__file__).parent / "profiles" / "tables" / "nafnet_tiny_64_t1.yaml")


@pytest.mark.parametrize("case", DARTS_FAULTS)
def test_darts(case: str, tmp_path: Path, tiny_table: LatencyTable, monkeypatch: pytest.MonkeyPatch) -> None:
    at, where, value, what = DARTS_FAULTS[case]
    loss = PoisonedL1(at, where, value)
    monkeypatch.setitem(loop._LOSSES._items, "reliability_poisoned_l1", loss)  # darts takes registered names

    def search(resume: bool) -> nasbench.search.SearchResult:
        return darts(
            nasbench.load_space("nafnet_tiny"), killable._crops(), tiny_table, output=tmp_path, resume=resume,
            steps=STEPS, warmup_steps=2, batch_size=2, checkpoint_every=EVERY, loss="reliability_poisoned_l1",
            progress=False,
        )  # fmt: skip

    checkpoint = tmp_path / DARTS_CHECKPOINT
    expected = f"darts step 7: {what} is not finite; last good checkpoint: {checkpoint} (step 6)"
    with pytest.raises(TrainingError, match=f"^{re.escape(expected)}$"):
        search(resume=False)
    _kept(checkpoint, 6)
    loss.at = None
    assert len(search(resume=True).history) == STEPS


@pytest.mark.parametrize(("where", "value"), FAULTS, ids=FAULT_IDS)
def test_distill_surrogates(where: str, value: float, tmp_path: Path) -> None:
    space = nasbench.load_space("nafnet_tiny")
    teacher = killable._network(2, width=16).eval()
    # enc1.0 has three trained students (naf_bn, naf_lite, conv_bn_relu), one loss call each per step:
    # call 3·7 + 2 is step 8's second student.
    loss = PoisonedL1(3 * 7 + 2, where, value)

    def distil(resume: bool) -> object:
        return distill_surrogates(
            space, teacher, killable._crops(), steps=9, batch_size=2, positions=["enc1.0"], loss=loss,
            output=tmp_path, checkpoint_every=EVERY, eval_batches=1, resume=resume, progress=False,
        )  # fmt: skip

    checkpoint = tmp_path / SURROGATES_CHECKPOINT
    prefix = f"distill_surrogates: position enc1.0, candidate naf_lite: step {STEPS}: "
    with pytest.raises(TrainingError, match=_expected(prefix, where, value, checkpoint)):
        distil(resume=False)
    _kept(checkpoint, 6)
    loss.at = None
    assert distil(resume=True).settings["steps"] == 9


def test_poisoned_loss_is_a_real_fault() -> None:
    """The injection itself: the forward value stays finite for ``grad`` faults, the gradient does not."""
    pred = torch.rand(2, 3, requires_grad=True)
    PoisonedL1(1, "grad", math.nan)(pred, torch.zeros(2, 3)).backward()
    assert pred.grad is not None and torch.isnan(pred.grad).all()
    assert math.isinf(PoisonedL1(1, "loss", math.inf)(pred, torch.zeros(2, 3)).item())

