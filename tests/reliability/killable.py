"""Tiny resumable runs of the four long training steps, shared by the SIGKILL tests and the processes they kill.

``python killable.py STEP OUTPUT`` runs STEP (``finetune``, ``distill``, ``darts``, ``surrogates``) into
OUTPUT, printing ``step N`` after each finished step and then sleeping ``THROTTLE_S`` — only so that the
parent can kill it partway; the sleep changes no number. In the test process, :func:`run` resumes the
killed run or makes the uninterrupted reference, and returns what must match: the history and every
tensor of the final state.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import nasbench
from nasbench.latency import LatencyTable
from nasbench.search import darts
from nasbench.search.darts import CHECKPOINT as DARTS_CHECKPOINT
from nasbench.search.surrogates import CHECKPOINT_NAME as SURROGATES_CHECKPOINT
from nasbench.search.surrogates import distill_surrogates
from nasbench.train import CropDataset, builtin_images, distill, finetune, load_checkpoint
from nasbench.train.loop import CHECKPOINT_NAME

STEPS = 16
CHECKPOINT_EVERY = 4
THROTTLE_S = 0.25
CHECKPOINTS = {
    "finetune": CHECKPOINT_NAME,
    "distill": CHECKPOINT_NAME,
    "darts": DARTS_CHECKPOINT,
    "surrogates": SURROGATES_CHECKPOINT,
}

Report = Callable[[int], None]
Outcome = tuple[Any, dict[str, torch.Tensor]]


def _crops() -> CropDataset:
    return CropDataset(builtin_images("train"), 16, "noise", length=32, seed=0)


def _network(seed: int, width: int = 8) -> torch.nn.Module:
    """A freshly seeded nafnet_tiny baseline of ``width``; NAF blocks get β = γ = 0.3 so that they act."""
    spec = nasbench.load_space("nafnet_tiny").to_dict()
    spec["backbone"]["width"] = width
    space = nasbench.SearchSpace.from_dict(spec)
    torch.manual_seed(seed)
    network = space.build()
    with torch.no_grad():
        for name, p in network.named_parameters():
            if name.endswith((".beta", ".gamma")):
                p.fill_(0.3)
    return network


def _finetune(out: Path, resume: bool, report: Report | None) -> Outcome:
    model = _network(0)
    log = (lambda entry: report(int(entry["step"]))) if report else None
    result = finetune(
        model, _crops(), steps=STEPS, batch_size=2, checkpoint_dir=out, checkpoint_every=CHECKPOINT_EVERY,
        resume=resume, progress=False, log=log,
    )  # fmt: skip
    return result.history, model.state_dict()


def _distill(out: Path, resume: bool, report: Report | None) -> Outcome:
    student = _network(0)
    log = (lambda entry: report(int(entry["step"]))) if report else None
    result = distill(
        student, _network(1), _crops(), steps=STEPS, batch_size=2, crop_schedule=[(8, 16, 2), (STEPS, 16, 1)],
        checkpoint_dir=out, checkpoint_every=CHECKPOINT_EVERY, resume=resume, progress=False, log=log,
    )  # fmt: skip
    return result.history, student.state_dict()


def _darts(out: Path, resume: bool, report: Report | None) -> Outcome:
    space = nasbench.load_space("nafnet_tiny")
    table = LatencyTable.load(Path(nasbench.__file__).parent / "profiles" / "tables" / "nafnet_tiny_64_t1.yaml")
    callback = (lambda row: report(int(row["step"]) + 1)) if report else None  # darts rows count from 0
    result = darts(
        space, _crops(), table, output=out, resume=resume, steps=STEPS, warmup_steps=4, batch_size=2,
        checkpoint_every=CHECKPOINT_EVERY, progress=False, callback=callback,
    )  # fmt: skip
    return result.history, load_checkpoint(out / DARTS_CHECKPOINT)["supernet"]


def _surrogates(out: Path, resume: bool, report: Report | None) -> Outcome:
    space = nasbench.load_space("nafnet_tiny")
    teacher = _network(2, width=16).eval()
    if report:  # one teacher pass measures the students first, then one pass per step
        calls = [0]

        def count(module: torch.nn.Module, args: tuple[Any, ...]) -> None:
            calls[0] += 1
            if calls[0] > 2:  # pass k + 1 starts step k: step k − 1 is finished
                report(calls[0] - 2)

        teacher.register_forward_pre_hook(count)
    result = distill_surrogates(
        space, teacher, _crops(), fraction=1.0, steps=STEPS, batch_size=2, positions=["enc1.0"], output=out,
        resume=resume, checkpoint_every=CHECKPOINT_EVERY, eval_batches=1, progress=False,
    )  # fmt: skip
    state = {f"{pos}/{label}/{k}": v for (pos, label), b in result.blocks.items() for k, v in b.state_dict().items()}
    return (result.history, result.measurements), state


RUNS: dict[str, Callable[[Path, bool, Report | None], Outcome]] = {
    "finetune": _finetune,
    "distill": _distill,
    "darts": _darts,
    "surrogates": _surrogates,
}


def run(step: str, out: Path, resume: bool = False, report: Report | None = None) -> Outcome:
    """Run ``step`` into ``out`` (fresh, or continuing its checkpoint with ``resume``)."""
    return RUNS[step](out, resume, report)


def _report(step: int) -> None:
    print(f"step {step}", flush=True)
    time.sleep(THROTTLE_S)


if __name__ == "__main__":
    torch.set_num_threads(1)
    run(sys.argv[1], Path(sys.argv[2]), report=_report)
