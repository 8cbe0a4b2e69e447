"""distill: the KD loss at α = 0 and 1, the frozen teacher, errors, the crop schedule and the teacher cache.

Tiny conv networks and 16–32 px crops keep every test well under a second of compute.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nasbench.train.data import CropDataset, DataError
from nasbench.train.distill import CropSchedule, CropStage, TeacherCache, distill, lite_denoise_loss
from nasbench.train.errors import TrainingError
from nasbench.train.loop import StepBatches


def _net(seed: int, out_channels: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, out_channels, 3, padding=1))


class CountingTeacher(nn.Module):
    """A 2-layer conv teacher that counts the samples it has seen."""

    def __init__(self) -> None:
        super().__init__()
        self.net = _net(1)
        self.samples = 0
        self.was_training: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.samples += x.shape[0]
        self.was_training.append(self.training)
        return self.net(x)


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.random((40, 48, 3), dtype=np.float32) for _ in range(2)]


def _data(images: list[np.ndarray], crop: int = 16, length: int = 64) -> CropDataset:
    return CropDataset(images, crop, "noise", length=length, seed=3)


def _one_step_loss(images: list[np.ndarray], alpha: float) -> tuple[float, torch.Tensor, torch.Tensor]:
    """The loss distill reports at step 1, and that step's batch (degraded, clean)."""
    data = _data(images)
    result = distill(_net(0), CountingTeacher(), data, steps=1, batch_size=2, alpha=alpha, progress=False)
    indices = next(iter(StepBatches(len(data), 2, 0, 1)))
    degraded = torch.stack([data[i][0] for i in indices])
    clean = torch.stack([data[i][1] for i in indices])
    return result.history[0]["loss"], degraded, clean


def test_alpha_zero_is_plain_supervised_loss(images: list[np.ndarray]) -> None:
    reported, degraded, clean = _one_step_loss(images, 0.0)
    with torch.no_grad():
        expected = lite_denoise_loss(_net(0)(degraded), clean).item()
    assert reported == pytest.approx(expected, rel=1e-6)


def test_alpha_zero_never_runs_the_teacher(images: list[np.ndarray]) -> None:
    teacher, log = CountingTeacher(), []
    distill(_net(0), teacher, _data(images), steps=2, batch_size=2, alpha=0.0, progress=False, log=log)
    assert teacher.samples == 0
    assert all("loss_teacher" not in entry and entry["loss"] == entry["loss_clean"] for entry in log)


def test_loop_settings_errors_name_distill(images: list[np.ndarray]) -> None:
    with pytest.raises(TrainingError, match=r"^distill: steps must be an integer ≥ 1, got 0$"):
        distill(_net(0), CountingTeacher(), _data(images), steps=0, progress=False)


def test_alpha_one_is_only_the_teacher_term(images: list[np.ndarray]) -> None:
    reported, degraded, _ = _one_step_loss(images, 1.0)
    with torch.no_grad():
        expected = lite_denoise_loss(_net(0)(degraded), _net(1)(degraded)).item()
    assert reported == pytest.approx(expected, rel=1e-6)


def test_mixed_alpha_weights_both_terms(images: list[np.ndarray]) -> None:
    log: list[dict[str, float]] = []
    distill(_net(0), CountingTeacher(), _data(images), steps=1, batch_size=2, alpha=0.9, progress=False, log=log)
    entry = log[0]
    assert entry["loss"] == pytest.approx(0.1 * entry["loss_clean"] + 0.9 * entry["loss_teacher"], rel=1e-6)


def test_teacher_is_frozen_and_in_eval(images: list[np.ndarray]) -> None:
    teacher = CountingTeacher().train()
    before = [p.detach().clone() for p in teacher.parameters()]
    distill(_net(0), teacher, _data(images), steps=3, batch_size=2, cache=False, progress=False)
    assert not teacher.training and teacher.was_training and not any(teacher.was_training)
    assert all(not p.requires_grad and p.grad is None for p in teacher.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters()))


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan")])
def test_alpha_out_of_range(images: list[np.ndarray], alpha: float) -> None:
    with pytest.raises(TrainingError, match="alpha must be"):
        distill(_net(0), CountingTeacher(), _data(images), steps=1, alpha=alpha, progress=False)


def test_teacher_shape_mismatch_names_both_shapes(images: list[np.ndarray]) -> None:
    with pytest.raises(TrainingError, match=r"teacher output has shape 2×1×16×16 but the clean batch has 2×3×16×16"):
        distill(_net(0), _net(1, out_channels=1), _data(images), steps=1, batch_size=2, progress=False)


def test_schedule_switches_crop_and_batch_at_the_right_steps(images: list[np.ndarray]) -> None:
    log: list[dict[str, float]] = []
    teacher = CountingTeacher()
    schedule = [(2, 16, 4), (5, 24, 2), (6, 32, 1)]
    distill(_net(0), teacher, _data(images), steps=6, crop_schedule=schedule, cache=False, progress=False, log=log)
    assert [e["crop"] for e in log] == [16, 16, 24, 24, 24, 32]
    assert teacher.samples == 2 * 4 + 3 * 2 + 1 * 1


def test_schedule_accepts_a_dataset_factory(images: list[np.ndarray]) -> None:
    log: list[dict[str, float]] = []
    made: list[int] = []

    def factory(crop: int) -> CropDataset:
        made.append(crop)
        return _data(images, crop)

    distill(_net(0), _net(1), factory, steps=2, crop_schedule=[(1, 16, 1), (2, 32, 1)], progress=False, log=log)
    assert made == [16, 32] and [e["crop"] for e in log] == [16, 32]


def test_schedule_crop_too_large_names_the_stage(images: list[np.ndarray]) -> None:
    with pytest.raises(DataError, match=r"stage 2 \(until step 4\).*crop 64×64 is larger than image"):
        distill(_net(0), _net(1), _data(images), steps=4, crop_schedule=[(2, 16, 2), (4, 64, 1)], progress=False)


def test_schedule_must_end_at_the_last_step(images: list[np.ndarray]) -> None:
    with pytest.raises(TrainingError, match="ends at step 4 but steps=5"):
        distill(_net(0), _net(1), _data(images), steps=5, crop_schedule=[(4, 16, 2)], progress=False)


def test_bounded_schedule_keeps_pixels_per_step_bounded() -> None:
    schedule = CropSchedule.bounded([128, 256, 512, 1024], steps=10, max_pixels=1024**2)
    assert schedule.stages == (
        CropStage(2, 128, 64),
        CropStage(4, 256, 16),
        CropStage(6, 512, 4),
        CropStage(10, 1024, 1),
    )
    with pytest.raises(TrainingError, match="stage 2: crop 64"):
        CropSchedule.bounded([16, 64], steps=4, max_pixels=32**2)
    with pytest.raises(TrainingError, match="stage 2: until_step 3 must be after"):
        CropSchedule.from_list([(3, 16, 1), (3, 32, 1)])


def test_cache_avoids_recomputing_teacher_outputs(images: list[np.ndarray]) -> None:
    # 4 distinct crops, 6 steps × 2 = 12 draws: every crop is drawn three times.
    uncached, cached = CountingTeacher(), CountingTeacher()
    log_a: list[dict[str, float]] = []
    log_b: list[dict[str, float]] = []
    kwargs = {"steps": 6, "batch_size": 2, "progress": False}
    distill(_net(0), uncached, _data(images, length=4), cache=False, log=log_a, **kwargs)
    distill(_net(0), cached, _data(images, length=4), log=log_b, **kwargs)  # cache on: CropDataset
    assert uncached.samples == 12
    assert cached.samples == 4
    assert [e["loss"] for e in log_a] == pytest.approx([e["loss"] for e in log_b], rel=1e-5)


def test_cache_is_bounded() -> None:
    cache = TeacherCache(max_bytes=2 * 3 * 4 * 4 * 4)  # two 3×4×4 float32 outputs
    for key in range(3):
        cache.put(key, torch.zeros(3, 4, 4))
    assert len(cache) == 2 and cache.get(0) is None and cache.get(2) is not None
    assert (cache.hits, cache.misses) == (1, 1)


class _Interrupt(Exception):
    pass


def test_resume_across_stages_is_exact(images: list[np.ndarray], tmp_path: Path) -> None:
    schedule = [(2, 16, 2), (4, 24, 1)]
    kwargs = {"steps": 4, "crop_schedule": schedule, "progress": False}
    full = distill(_net(0), _net(1), _data(images), **kwargs)

    def stop_after_step_3(entry: dict[str, float]) -> None:
        if entry["step"] == 3:  # the step-3 checkpoint is written before the log sees the entry
            raise _Interrupt

    with pytest.raises(_Interrupt):
        distill(
            _net(0),
            _net(1),
            _data(images),
            checkpoint_dir=tmp_path,
            checkpoint_every=1,
            log=stop_after_step_3,
            **kwargs,
        )
    resumed = distill(_net(7), _net(1), _data(images), checkpoint_dir=tmp_path, resume=True, **kwargs)
    assert [e["step"] for e in resumed.history] == [1, 2, 3, 4]
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


def test_nonfinite_loss_stops(images: list[np.ndarray]) -> None:
    student = _net(0)
    with torch.no_grad():
        student[0].weight.fill_(float("nan"))
    with pytest.raises(TrainingError, match="step 1: loss is nan"):
        distill(student, _net(1), _data(images), steps=2, batch_size=2, progress=False)
