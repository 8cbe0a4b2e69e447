"""Fine-tuning a restoration network: ``finetune(model, train_data, val_pairs, steps=...)``.

Our defaults, where the papers leave the choice to us: AdamW with NAFNet's betas (0.9, 0.9) and
lr 1e-3; optional linear warm-up; cosine annealing to lr·1e-3 at the last step (NAFNet anneals 200k+
iterations to 1e-7; short fine-tuning runs stop higher); L1 loss; no gradient clipping.

Resuming is exact: the batch of every step is a function of ``(seed, step)`` only, and a checkpoint
holds the model, optimizer, scheduler, step, global RNG states and history, so an interrupted run
continued with ``resume=True`` ends with bitwise the same weights as an uninterrupted one.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import clip_grads_with_norm_, get_total_norm
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from nasbench.registry import Registry
from nasbench.train.checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from nasbench.train.errors import TrainingError
from nasbench.train.metrics import evaluate

CHECKPOINT_NAME = "last.pt"
FINAL_LR_FACTOR = 1e-3
ADAMW_BETAS = (0.9, 0.9)

# ---------------------------------------------------------------------- losses
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LossT = TypeVar("LossT", bound=Loss)
_LOSSES: Registry[Loss] = Registry("loss", TrainingError)


def register_loss(name: str) -> Callable[[LossT], LossT]:
    """Decorator: register ``(pred, target) -> scalar tensor`` (both N×C×H×W) as loss ``name``."""
    return _LOSSES.register(name)


def list_losses() -> list[str]:
    return _LOSSES.names()


@register_loss("l1")
def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error."""
    return F.l1_loss(pred, target)


@register_loss("l2")
@register_loss("mse")
def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error."""
    return F.mse_loss(pred, target)


@register_loss("psnr")
def psnr_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """NAFNet's PSNRLoss: (10/ln 10)·mean_n log(mean_CHW (pred − target)² + 1e-8), i.e. minus the mean
    per-image PSNR in dB for data range 1 (so it is negative and falls as quality rises)."""
    mse = (pred - target).pow(2).mean(dim=(1, 2, 3))
    return (10.0 / math.log(10.0)) * torch.log(mse + 1e-8).mean()


def get_loss(loss: str | Loss) -> Loss:
    if callable(loss):
        return loss
    return _LOSSES.get(loss, "finetune")


# ---------------------------------------------------------------------- schedule and batches
def lr_factor(step: int, steps: int, warmup_steps: int = 0, final_factor: float = FINAL_LR_FACTOR) -> float:
    """Multiplier of the base learning rate at 0-based ``step`` of ``steps``: linear warm-up from
    1/``warmup_steps`` to 1 over the first ``warmup_steps``, then a cosine from 1 down to ``final_factor``,
    reached at ``steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, steps - warmup_steps)
    return final_factor + (1.0 - final_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


class StepBatches(Sampler[list[int]]):
    """The dataset indices of steps ``first``..``steps`` (1-based), ``batch_size`` per step.

    Indices come epoch by epoch without replacement: epoch ``e`` is a permutation of the dataset seeded
    by ``(seed, e)``, and step ``s`` takes places (s−1)·B … s·B−1 of the epochs laid end to end — so a
    step's batch depends on ``(seed, step)`` alone and a resumed run draws the batches of the original.
    """

    def __init__(self, size: int, batch_size: int, seed: int, steps: int, first: int = 1) -> None:
        self.size, self.batch_size, self.seed, self.steps, self.first = size, batch_size, seed, steps, first

    def __len__(self) -> int:
        return max(0, self.steps - self.first + 1)

    def __iter__(self) -> Iterator[list[int]]:
        epoch, order = -1, np.empty(0, dtype=np.int64)
        for step in range(self.first, self.steps + 1):
            batch = []
            for place in range((step - 1) * self.batch_size, step * self.batch_size):
                if place // self.size != epoch:
                    epoch = place // self.size
                    order = np.random.default_rng([self.seed, epoch]).permutation(self.size)
                batch.append(int(order[place % self.size]))
            yield batch


# ---------------------------------------------------------------------- the loop
@dataclass
class FinetuneResult:
    """What :func:`finetune` hands back.

    ``model`` — the trained network (the module passed in, trained in place); ``history`` — one dict per
    step: ``step`` (1-based), ``loss``, ``lr``, plus validation ``psnr_db`` and ``ssim`` on evaluated steps;
    ``metrics`` — :func:`~nasbench.train.metrics.evaluate` on ``val_pairs`` after the last step (empty
    without validation pairs); ``checkpoint`` — the final checkpoint file, or ``None``.
    """

    model: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    checkpoint: Path | None = None

    @property
    def losses(self) -> list[float]:
        return [entry["loss"] for entry in self.history]


def finetune(
    model: nn.Module,
    train_data: Dataset[tuple[torch.Tensor, torch.Tensor]],
    val_pairs: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None,
    *,
    steps: int,
    batch_size: int = 8,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    loss: str | Loss = "l1",
    warmup_steps: int = 0,
    grad_clip: float | None = None,
    seed: int = 0,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 100,
    resume: bool = False,
    eval_every: int | None = None,
    progress: bool = True,
    log: Callable[[dict[str, float]], None] | list[dict[str, float]] | None = None,
) -> FinetuneResult:
    """Train ``model`` in place for ``steps`` optimizer steps on ``(degraded, clean)`` samples
    (3×H×W tensors, e.g. a :class:`~nasbench.train.data.CropDataset`) and return a :class:`FinetuneResult`.

    - Optimizer AdamW(lr, betas (0.9, 0.9), ``weight_decay``); the learning rate warms up linearly over
      ``warmup_steps``, then follows a cosine to lr·1e-3 (:func:`lr_factor`). ``grad_clip`` caps the global
      gradient L2 norm.
    - ``loss``: a registered name (``l1``, ``l2``/``mse``, ``psnr`` — NAFNet's PSNRLoss) or a callable.
    - Batches: a ``DataLoader`` (no worker processes) over :class:`StepBatches`; ``seed`` also seeds the
      global torch, numpy and Python generators at the start of a fresh run (for dropout and the like).
    - ``val_pairs`` (whole images) are evaluated every ``eval_every`` steps and after the last step.
    - With ``checkpoint_dir``, ``<checkpoint_dir>/last.pt`` is replaced atomically every
      ``checkpoint_every`` steps and after the last one. ``resume=True`` continues from it (or starts
      afresh when there is none) and requires the same settings; a fresh run refuses to overwrite one.
    - A non-finite loss or gradient norm stops the run with :class:`TrainingError` naming the step and
      the last good checkpoint, which is left as it was.
    - ``progress`` shows a tqdm bar; ``log`` receives each history entry (a callable, or a list to append to).
    """
    check_settings(steps, batch_size, warmup_steps, checkpoint_every, eval_every, grad_clip)
    loss_fn = get_loss(loss)
    size = len(train_data)  # type: ignore[arg-type]  # map-style datasets have a length
    if size == 0:
        raise TrainingError("finetune: the training data are empty")
    settings = {
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "weight_decay": weight_decay,
        "loss": loss if isinstance(loss, str) else getattr(loss, "__qualname__", repr(loss)),
        "warmup_steps": warmup_steps,
        "grad_clip": grad_clip,
        "seed": seed,
        "train_samples": size,
    }
    path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    if resume and path is None:
        raise TrainingError("finetune: resume=True needs a checkpoint_dir")
    if path is not None and path.exists() and not resume:
        raise TrainingError(
            f"{path}: a checkpoint exists; pass resume=True to continue it, or choose another checkpoint_dir"
        )

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, betas=ADAMW_BETAS, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, steps, warmup_steps))
    history: list[dict[str, float]] = []
    start = 0
    if resume and path is not None and path.exists():
        start, history = resume_checkpoint(path, settings, model, optimizer, scheduler)
    else:
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)

    emit = log.append if isinstance(log, list) else log
    device = next(model.parameters(), torch.empty(0)).device
    batches = StepBatches(size, batch_size, seed, steps, start + 1)
    # A private generator: an iterator over a loader otherwise draws its base seed from the global torch
    # RNG, which would differ between a resumed run and the original.
    loader = DataLoader(train_data, batch_sampler=batches, num_workers=0, generator=torch.Generator().manual_seed(seed))
    last_good = path if path is not None and path.exists() else None
    metrics: dict[str, float] = {}
    model.train()
    with tqdm(total=steps, initial=start, disable=not progress, desc="finetune", unit="step") as bar:
        for step, (degraded, clean) in enumerate(loader, start=start + 1):
            current_lr = scheduler.get_last_lr()[0]
            optimizer.zero_grad(set_to_none=True)
            loss_value = loss_fn(model(degraded.to(device)), clean.to(device))
            step_loss = optimizer_step(loss_value, step, params, optimizer, scheduler, grad_clip, last_good)
            entry = {"step": step, "loss": step_loss, "lr": current_lr}
            evaluated, last_good = record_step(
                entry,
                model,
                val_pairs,
                eval_every,
                steps,
                history,
                path,
                checkpoint_every,
                optimizer,
                scheduler,
                settings,
                last_good,
            )
            metrics = evaluated or metrics
            bar.update(1)
            bar.set_postfix(loss=f"{entry['loss']:.4g}")
            if emit is not None:
                emit(entry)
    if val_pairs and not metrics:  # resumed a finished run: nothing was evaluated in this call
        metrics = evaluate(model, val_pairs)
    return FinetuneResult(model=model, history=history, metrics=metrics, checkpoint=last_good)


def optimizer_step(
    loss_value: torch.Tensor,
    step: int,
    params: list[torch.nn.Parameter],
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    grad_clip: float | None,
    last_good: Path | None,
) -> float:
    """Backward, the non-finite checks (loss, gradient norm), optional clipping, optimizer and schedule
    step; returns the loss value. Shared by :func:`finetune` and ``distill``."""
    step_loss = loss_value.item()
    if not math.isfinite(step_loss):
        raise _diverged(step, "loss", step_loss, last_good)
    loss_value.backward()
    norm = get_total_norm([p.grad for p in params if p.grad is not None])
    if not math.isfinite(norm.item()):
        raise _diverged(step, "gradient norm", norm.item(), last_good)
    if grad_clip is not None:
        clip_grads_with_norm_(params, grad_clip, norm)
    optimizer.step()
    scheduler.step()
    return step_loss


def record_step(
    entry: dict[str, float],
    model: nn.Module,
    val_pairs: Sequence[tuple[torch.Tensor, torch.Tensor]] | None,
    eval_every: int | None,
    steps: int,
    history: list[dict[str, float]],
    path: Path | None,
    checkpoint_every: int,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    settings: dict[str, Any],
    last_good: Path | None,
) -> tuple[dict[str, float] | None, Path | None]:
    """After a step: validate when due (adding the metrics to ``entry``), append ``entry`` to the history,
    write the checkpoint when due. Returns (the metrics if evaluated, the last good checkpoint)."""
    step = int(entry["step"])
    metrics = None
    if val_pairs and ((eval_every and step % eval_every == 0) or step == steps):
        metrics = evaluate(model, val_pairs)
        entry.update(psnr_db=metrics["psnr_db"], ssim=metrics["ssim"])
    history.append(entry)
    if path is not None and (step % checkpoint_every == 0 or step == steps):
        state = {
            "step": step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": capture_rng_state(),
            "history": history,
            "settings": settings,
        }
        last_good = save_checkpoint(path, state)
    return metrics, last_good


def check_settings(
    steps: int,
    batch_size: int,
    warmup_steps: int,
    checkpoint_every: int,
    eval_every: int | None,
    grad_clip: float | None,
    caller: str = "finetune",
) -> None:
    """Raise :class:`TrainingError`, prefixed ``caller:``, unless the loop settings are in range.
    Shared by :func:`finetune` and ``distill``."""
    for name, value, minimum in (
        ("steps", steps, 1),
        ("batch_size", batch_size, 1),
        ("warmup_steps", warmup_steps, 0),
        ("checkpoint_every", checkpoint_every, 1),
    ):
        if not (isinstance(value, int) and value >= minimum):
            raise TrainingError(f"{caller}: {name} must be an integer ≥ {minimum}, got {value!r}")
    if eval_every is not None and not (isinstance(eval_every, int) and eval_every >= 1):
        raise TrainingError(f"{caller}: eval_every must be an integer ≥ 1 or None, got {eval_every!r}")
    if grad_clip is not None and not grad_clip > 0:
        raise TrainingError(f"{caller}: grad_clip must be > 0 or None, got {grad_clip!r}")


def resume_checkpoint(
    path: Path,
    settings: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> tuple[int, list[dict[str, float]]]:
    """Load the checkpoint ``path`` into the model, optimizer, scheduler and global RNGs and return its
    (step, history); refuses a checkpoint written with other ``settings``. Shared by :func:`finetune` and
    ``distill``."""
    state = load_checkpoint(path)
    missing = [
        key for key in ("step", "model", "optimizer", "scheduler", "rng", "history", "settings") if key not in state
    ]
    if missing:
        raise TrainingError(f"{path}: not a finetune checkpoint: missing {', '.join(missing)}")
    for key, value in settings.items():
        saved = state["settings"].get(key)
        if saved != value:
            raise TrainingError(
                f"{path}: resume: the checkpoint has {key}={saved!r} but this call {key}={value!r}; "
                "resuming is exact only with the same settings"
            )
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise TrainingError(
            f"{path}: the checkpoint does not fit this model: {str(exc).strip().splitlines()[0]}"
        ) from None
    scheduler.load_state_dict(state["scheduler"])
    restore_rng_state(state["rng"])
    return int(state["step"]), list(state["history"])


def _diverged(step: int, what: str, value: float, last_good: Path | None) -> TrainingError:
    checkpoint = str(last_good) if last_good is not None else "none (no checkpoint_dir or none written yet)"
    return TrainingError(f"step {step}: {what} is {value}; last good checkpoint: {checkpoint}")


__all__ = [
    "ADAMW_BETAS",
    "CHECKPOINT_NAME",
    "FINAL_LR_FACTOR",
    "FinetuneResult",
    "StepBatches",
    "check_settings",
    "finetune",
    "l1_loss",
    "list_losses",
    "lr_factor",
    "mse_loss",
    "optimizer_step",
    "psnr_loss",
    "record_step",
    "register_loss",
    "resume_checkpoint",
]
