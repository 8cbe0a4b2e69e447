"""Knowledge distillation of a restoration network from a frozen teacher, with progressive context
expansion (training crops that grow stage by stage). See docs/distillation.md.

``distill(student, teacher, train_data, steps=...)`` minimises, per batch,

    (1 − α) · L(student(degraded), clean) + α · L_T(student(degraded), teacher(degraded))

with α = 0.9 (the LiteDenoiseNet paper's value) and, by default, L = L_T = 1000·MSE + 50·L1 (the loss of
LiteDenoiseNet's released supervised training). α is confirmed by the paper; this exact KD formula is our
reading of it, not found in a primary source.

``features=[...]`` adds feature-level distillation: ``feature_weight`` times a loss between the outputs of
named student and teacher modules (:mod:`nasbench.train.features`).

Why not :func:`~nasbench.train.loop.finetune`: its loss sees only ``(prediction, clean)`` — not the
degraded input the teacher needs, nor the sample index the teacher cache is keyed by — and it has one
batch size for the whole run, while a crop schedule changes it per stage. The loop here is otherwise
finetune's: the same optimizer, learning-rate schedule, :class:`~nasbench.train.loop.StepBatches`,
atomic checkpoints, exact resume and non-finite stop (it reuses those helpers).
"""

from __future__ import annotations

import copy
import math
import random
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from nasbench.train.data import CropDataset
from nasbench.train.errors import DataError, TrainingError
from nasbench.train.features import FeatureLoss, FeaturePairs, FeatureRecorder, feature_pairs, get_feature_loss
from nasbench.train.loop import (
    ADAMW_BETAS,
    CHECKPOINT_NAME,
    FinetuneResult,
    Loss,
    StepBatches,
    check_settings,
    get_loss,
    lr_factor,
    optimizer_step,
    record_step,
    register_loss,
    resume_checkpoint,
)
from nasbench.train.metrics import evaluate

DEFAULT_ALPHA = 0.9
DEFAULT_CACHE_MB = 512.0

Sample = tuple[torch.Tensor, torch.Tensor]
CacheValue = torch.Tensor | tuple[torch.Tensor, ...]


@register_loss("lite_denoise")
def lite_denoise_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """LiteDenoiseNet's training loss: 1000·MSE + 50·L1 (both means over all elements)."""
    return 1000.0 * F.mse_loss(pred, target) + 50.0 * F.l1_loss(pred, target)


# ---------------------------------------------------------------------- crop schedule
@dataclass(frozen=True)
class CropStage:
    """Steps up to and including ``until_step`` (1-based) train on ``crop``×``crop`` px crops,
    ``batch_size`` per step."""

    until_step: int
    crop: int
    batch_size: int


@dataclass(frozen=True)
class CropSchedule:
    """Progressive context expansion: stages of growing crops, each until a step. The last stage must end
    at the run's last step. E.g. ``CropSchedule.bounded([128, 256, 512, 1024], steps=4000,
    max_pixels=1024**2)`` trains 1000 steps each on 128 px crops (batch 64), 256 (16), 512 (4), 1024 (1).
    """

    stages: tuple[CropStage, ...]

    def __post_init__(self) -> None:
        if not self.stages:
            raise TrainingError("CropSchedule: needs at least one stage")
        previous = 0
        for number, stage in enumerate(self.stages, start=1):
            for name in ("until_step", "crop", "batch_size"):
                value = getattr(stage, name)
                if not (isinstance(value, int) and value >= 1):
                    raise TrainingError(f"CropSchedule: stage {number}: {name} must be an integer ≥ 1, got {value!r}")
            if stage.until_step <= previous:
                raise TrainingError(
                    f"CropSchedule: stage {number}: until_step {stage.until_step} must be after the previous "
                    f"stage's {previous}"
                )
            previous = stage.until_step

    @classmethod
    def from_list(cls, stages: Sequence[tuple[int, int, int] | CropStage]) -> CropSchedule:
        """From ``[(until_step, crop, batch_size), ...]``."""
        return cls(tuple(s if isinstance(s, CropStage) else CropStage(*s) for s in stages))

    @classmethod
    def bounded(cls, crops: Sequence[int], *, steps: int, max_pixels: int) -> CropSchedule:
        """One stage per crop size, in the order given, with ``steps`` split evenly (the last stage takes
        the remainder) and the largest batch with crop²·batch ≤ ``max_pixels`` — so the pixels per step,
        and roughly the activation memory, stay bounded as the crops grow."""
        if not crops:
            raise TrainingError("CropSchedule.bounded: crops is empty")
        if not (isinstance(steps, int) and steps >= len(crops)):
            raise TrainingError(f"CropSchedule.bounded: steps must be an integer ≥ {len(crops)} (one per stage)")
        stages = []
        for number, crop in enumerate(crops, start=1):
            if not (isinstance(crop, int) and 1 <= crop * crop <= max_pixels):
                raise TrainingError(
                    f"CropSchedule.bounded: stage {number}: crop {crop!r}² exceeds max_pixels {max_pixels} "
                    "(or is not a positive integer)"
                )
            until = steps if number == len(crops) else number * (steps // len(crops))
            stages.append(CropStage(until, crop, max_pixels // (crop * crop)))
        return cls(tuple(stages))

    def stage_at(self, step: int) -> int:
        """The 0-based index of the stage that trains 1-based ``step``."""
        for index, stage in enumerate(self.stages):
            if step <= stage.until_step:
                return index
        raise TrainingError(f"CropSchedule: step {step} is after the last stage ({self.stages[-1].until_step})")

    def as_list(self) -> list[list[int]]:
        return [[s.until_step, s.crop, s.batch_size] for s in self.stages]


# ---------------------------------------------------------------------- teacher cache
class TeacherCache:
    """Teacher outputs by key, least recently used evicted beyond ``max_bytes``.

    Valid only when the dataset item behind a key never changes: a :class:`CropDataset`'s item ``i`` is
    a function of ``(seed, i)`` (crop, degradation noise and flips all come from an rng seeded by them),
    so ``(stage, i)`` identifies the teacher's input and, the teacher being frozen, its output. A dataset
    that draws fresh randomness per access (or a teacher that changes) must not be cached.
    Outputs are kept on the CPU. A value is a tensor or a tuple of tensors (the teacher's output and its
    recorded features); its size is the sum of theirs.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Hashable, CacheValue] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> CacheValue | None:
        value = self._items.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: CacheValue) -> None:
        size = _nbytes(value)
        if size > self.max_bytes:
            return
        if key in self._items:
            self.bytes -= _nbytes(self._items.pop(key))
        if isinstance(value, torch.Tensor):
            self._items[key] = value.detach().cpu()
        else:
            self._items[key] = tuple(v.detach().cpu() for v in value)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, evicted = self._items.popitem(last=False)
            self.bytes -= _nbytes(evicted)


def _nbytes(value: CacheValue) -> int:
    tensors = (value,) if isinstance(value, torch.Tensor) else value
    return sum(t.numel() * t.element_size() for t in tensors)


# ---------------------------------------------------------------------- the loop
def distill(
    student: nn.Module,
    teacher: nn.Module,
    train_data: Dataset[Sample] | Callable[[int], Dataset[Sample]],
    val_pairs: Sequence[Sample] | None = None,
    *,
    steps: int,
    batch_size: int = 8,
    alpha: float = DEFAULT_ALPHA,
    lr: float = 1e-4,
    weight_decay: float = 0.0,
    loss: str | Loss = "lite_denoise",
    teacher_loss: str | Loss | None = None,
    features: FeaturePairs | None = None,
    feature_weight: float = 1.0,
    feature_loss: str | FeatureLoss = "mse",
    crop_schedule: CropSchedule | Sequence[tuple[int, int, int]] | None = None,
    cache: bool | None = None,
    cache_mb: float = DEFAULT_CACHE_MB,
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
    """Train ``student`` in place for ``steps`` steps to match both the clean targets and a frozen
    ``teacher``; returns a :class:`~nasbench.train.loop.FinetuneResult`.

    - Per batch: ``(1 − alpha)·loss(S, clean) + alpha·teacher_loss(S, T)``, S = student(degraded),
      T = teacher(degraded); ``loss`` and ``teacher_loss`` are registered names (``lite_denoise`` =
      1000·MSE + 50·L1, the default; ``l1``, ``mse``, ``psnr``) or callables; ``teacher_loss=None`` uses
      ``loss``. History entries add ``loss_clean`` and ``loss_teacher`` (the two unweighted terms) and
      ``crop`` (px). With ``alpha=0`` (and no ``features``) the teacher is never run and ``loss_teacher``
      is absent.
    - ``features``: feature-level distillation (see :mod:`nasbench.train.features`). Module names, each
      the same in student and teacher, or ``(student_name, teacher_name)`` pairs; forward hooks record
      their outputs and ``feature_weight · mean_pairs feature_loss(s, t)`` is added to the loss
      (``loss_features`` in the history). ``feature_loss``: ``mse`` (relative MSE, equal shapes, the
      default) or ``attention`` (attention maps, any channel counts), or a callable. The hooks are
      removed on return; the student gains no module.
    - The teacher is frozen for good: ``requires_grad_(False)``, eval mode, run under ``no_grad``.
      It may live on another device than the student; its outputs are moved to the student's.
    - ``train_data``: (degraded, clean) 3×H×W samples, e.g. a :class:`CropDataset`. With a
      ``crop_schedule`` (a :class:`CropSchedule` or ``[(until_step, crop, batch_size), ...]``), each stage
      trains on crops of its size and its own batch size (``batch_size`` is then unused): a
      :class:`CropDataset` is re-cut at each stage's crop (same images, degradation, seed, length),
      or ``train_data`` may be a factory ``crop -> dataset``.
    - ``cache``: keep teacher outputs per (stage, dataset index) in a :class:`TeacherCache` of at most
      ``cache_mb`` MB; ``None`` (default) caches when the data are :class:`CropDataset` (deterministic
      items). With the cache on, the teacher runs one sample at a time, so an output never depends on the
      batch it was first computed in and a resumed run stays bitwise exact.
    - Optimizer, learning-rate schedule, batches (:class:`StepBatches` seeded by ``(seed, step)``),
      checkpoints (``<checkpoint_dir>/last.pt``, atomic; ``resume=True``), validation, the non-finite
      stop, ``progress`` and ``log`` are those of :func:`~nasbench.train.loop.finetune`.
    """
    if not (isinstance(alpha, int | float) and 0.0 <= alpha <= 1.0):
        raise TrainingError(f"distill: alpha must be a number in [0, 1], got {alpha!r}")
    if not (isinstance(cache_mb, int | float) and cache_mb >= 0):
        raise TrainingError(f"distill: cache_mb must be a number ≥ 0 (MB), got {cache_mb!r}")
    if not (isinstance(feature_weight, int | float) and feature_weight > 0 and math.isfinite(feature_weight)):
        raise TrainingError(f"distill: feature_weight must be a finite number > 0, got {feature_weight!r}")
    check_settings(steps, batch_size, warmup_steps, checkpoint_every, eval_every, grad_clip, "distill")
    pairs = feature_pairs(features) if features is not None else []
    feature_fn = get_feature_loss(feature_loss) if pairs else None
    student_features = FeatureRecorder(student, [p[0] for p in pairs], "student")
    teacher_features = FeatureRecorder(teacher, [p[1] for p in pairs], "teacher")
    schedule = _schedule(crop_schedule, steps)
    # (until_step, batch_size) per stage; without a schedule, one stage on the data's own crops.
    stages = [(s.until_step, s.batch_size) for s in schedule.stages] if schedule else [(steps, batch_size)]
    datasets = _stage_datasets(train_data, schedule)
    if cache is None:
        cache = all(isinstance(d, CropDataset) for d in datasets)
    clean_fn, teacher_fn = get_loss(loss), get_loss(loss if teacher_loss is None else teacher_loss)
    settings = {
        "steps": steps,
        "batch_size": batch_size if schedule is None else None,
        "schedule": schedule.as_list() if schedule is not None else None,
        "alpha": float(alpha),
        "lr": lr,
        "weight_decay": weight_decay,
        "loss": _loss_name(loss),
        "teacher_loss": _loss_name(loss if teacher_loss is None else teacher_loss),
        "warmup_steps": warmup_steps,
        "grad_clip": grad_clip,
        "seed": seed,
        "train_samples": [len(d) for d in datasets],  # type: ignore[arg-type]  # map-style datasets
    }
    if pairs:  # only then: checkpoints written before feature distillation existed still resume
        settings |= {
            "features": [list(p) for p in pairs],
            "feature_weight": float(feature_weight),
            "feature_loss": _loss_name(feature_loss),
        }
    path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    if resume and path is None:
        raise TrainingError("distill: resume=True needs a checkpoint_dir")
    if path is not None and path.exists() and not resume:
        raise TrainingError(
            f"{path}: a checkpoint exists; pass resume=True to continue it, or choose another checkpoint_dir"
        )

    teacher.requires_grad_(False)
    teacher.eval()
    params = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, betas=ADAMW_BETAS, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, steps, warmup_steps))
    history: list[dict[str, float]] = []
    start = 0
    if resume and path is not None and path.exists():
        start, history = resume_checkpoint(path, settings, student, optimizer, scheduler)
    else:
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)

    emit = log.append if isinstance(log, list) else log
    device = next(student.parameters(), torch.empty(0)).device
    teacher_device = next(teacher.parameters(), torch.empty(0)).device
    last_good = path if path is not None and path.exists() else None
    metrics: dict[str, float] = {}
    student.train()
    run_teacher = alpha > 0 or bool(pairs)
    with (
        tqdm(total=steps, initial=start, disable=not progress, desc="distill", unit="step") as bar,
        student_features.attached(),
        teacher_features.attached(),
    ):
        for number, ((until, stage_batch), dataset) in enumerate(zip(stages, datasets)):
            first = max(start + 1, stages[number - 1][0] + 1 if number else 1)
            if first > until:  # a resumed run already finished this stage
                continue
            # One cache per stage: keys of an earlier stage's (smaller) crops never come back.
            stage_cache = TeacherCache(int(cache_mb * 2**20)) if cache else None
            batches = StepBatches(len(dataset), stage_batch, seed, until, first)  # type: ignore[arg-type]
            for step, indices in enumerate(batches, start=first):
                samples = [dataset[i] for i in indices]
                degraded = torch.stack([s[0] for s in samples])
                clean = torch.stack([s[1] for s in samples]).to(device)
                current_lr = scheduler.get_last_lr()[0]
                optimizer.zero_grad(set_to_none=True)
                pred = student(degraded.to(device))
                _check_shape("student output", pred, clean)
                term_clean = clean_fn(pred, clean)
                loss_value = (1.0 - alpha) * term_clean
                terms = {"loss_clean": term_clean.item()}
                if run_teacher:  # α = 0 without features is clean supervision only: the teacher is not run
                    target, t_feats = _teacher_outputs(
                        teacher, teacher_features, degraded, indices, stage_cache, number, teacher_device
                    )
                    _check_shape("teacher output", target, clean)
                    if alpha > 0:
                        term_teacher = teacher_fn(pred, target.to(device))
                        loss_value = loss_value + alpha * term_teacher
                        terms["loss_teacher"] = term_teacher.item()
                    if feature_fn is not None:
                        s_feats = student_features.take()
                        term_features = torch.stack(
                            [feature_fn(s, t.to(s.device)) for s, t in zip(s_feats, t_feats)]
                        ).mean()
                        loss_value = loss_value + feature_weight * term_features
                        terms["loss_features"] = term_features.item()
                step_loss = optimizer_step(loss_value, step, params, optimizer, scheduler, grad_clip, last_good)

                entry = {"step": step, "loss": step_loss, **terms, "lr": current_lr, "crop": float(clean.shape[-1])}
                evaluated, last_good = record_step(
                    entry,
                    student,
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
                bar.set_postfix(loss=f"{step_loss:.4g}", crop=int(clean.shape[-1]))
                if emit is not None:
                    emit(entry)
    if val_pairs and not metrics:  # resumed a finished run: nothing was evaluated in this call
        metrics = evaluate(student, val_pairs)
    return FinetuneResult(model=student, history=history, metrics=metrics, checkpoint=last_good)


def _schedule(crop_schedule: CropSchedule | Sequence[tuple[int, int, int]] | None, steps: int) -> CropSchedule | None:
    if crop_schedule is None:
        return None
    schedule = crop_schedule if isinstance(crop_schedule, CropSchedule) else CropSchedule.from_list(crop_schedule)
    if schedule.stages[-1].until_step != steps:
        raise TrainingError(
            f"distill: the crop schedule's last stage ends at step {schedule.stages[-1].until_step} but steps={steps}"
        )
    return schedule


def _stage_datasets(
    train_data: Dataset[Sample] | Callable[[int], Dataset[Sample]], schedule: CropSchedule | None
) -> list[Dataset[Sample]]:
    if schedule is None:
        if not isinstance(train_data, Dataset):
            raise TrainingError("distill: a dataset factory (crop -> dataset) needs a crop_schedule")
        if len(train_data) == 0:  # type: ignore[arg-type]
            raise TrainingError("distill: the training data are empty")
        return [train_data]
    datasets = []
    for number, stage in enumerate(schedule.stages, start=1):
        where = f"distill: crop schedule stage {number} (until step {stage.until_step})"
        try:
            if isinstance(train_data, CropDataset):
                dataset = _recrop(train_data, stage.crop)
            elif callable(train_data) and not isinstance(train_data, Dataset):
                dataset = train_data(stage.crop)
            else:
                raise TrainingError(
                    f"{where}: a crop schedule needs a CropDataset or a factory crop -> dataset, "
                    f"got {type(train_data).__name__}"
                )
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from None
        if len(dataset) == 0:  # type: ignore[arg-type]
            raise TrainingError(f"{where}: the training data are empty")
        datasets.append(dataset)
    return datasets


def _recrop(dataset: CropDataset, crop: int) -> CropDataset:
    """``dataset`` cut at ``crop`` px: the same images, degradation, seed, length and augmentation."""
    for name, (height, width) in zip(dataset.names, dataset._source.sizes):
        if crop > height or crop > width:
            raise DataError(f"crop {crop}×{crop} is larger than image {name!r} ({height}×{width})")
    recropped = copy.copy(dataset)
    recropped.crop = crop
    return recropped


def _teacher_outputs(
    teacher: nn.Module,
    recorder: FeatureRecorder,
    degraded: torch.Tensor,
    indices: list[int],
    cache: TeacherCache | None,
    stage: int,
    device: torch.device,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The teacher's N×3×H×W outputs for a batch and its recorded features (N×C×h×w each; none when
    ``recorder`` records nothing), from ``cache`` where present."""
    with torch.no_grad():
        if cache is None:
            output = teacher(degraded.to(device))
            return output, recorder.take() if recorder.names else []
        rows: list[tuple[torch.Tensor, ...]] = []
        for row, index in enumerate(indices):
            value = cache.get((stage, index))
            if value is None:
                output = teacher(degraded[row : row + 1].to(device))[0]
                feats = [f[0] for f in recorder.take()] if recorder.names else []
                value = (output, *feats)
                cache.put((stage, index), value)
            rows.append(tuple(v.to(degraded.device) for v in value))  # type: ignore[union-attr]
        stacked = [torch.stack(column) for column in zip(*rows)]
        return stacked[0], stacked[1:]


def _check_shape(what: str, tensor: torch.Tensor, clean: torch.Tensor) -> None:
    if tensor.shape != clean.shape:
        raise TrainingError(
            f"distill: the {what} has shape {'×'.join(map(str, tensor.shape))} but the clean batch has "
            f"{'×'.join(map(str, clean.shape))}; they must match"
        )


def _loss_name(loss: str | Loss) -> str:
    return loss if isinstance(loss, str) else getattr(loss, "__qualname__", repr(loss))


__all__ = [
    "DEFAULT_ALPHA",
    "CropSchedule",
    "CropStage",
    "TeacherCache",
    "distill",
    "lite_denoise_loss",
]
