"""Feature-level distillation: the two feature losses, the hooks, and distill with ``features``.

Tiny conv networks and 16 px crops: every test is a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nasbench.train.data import CropDataset
from nasbench.train.distill import distill
from nasbench.train.errors import TrainingError
from nasbench.train.features import (
    FeatureRecorder,
    attention_transfer,
    feature_pairs,
    get_feature_loss,
    list_feature_losses,
    relative_mse,
)
from nasbench.train.loop import StepBatches


def _net(seed: int, width: int = 4) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 3, 3, padding=1))


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.random((40, 48, 3), dtype=np.float32) for _ in range(2)]


def _data(images: list[np.ndarray], length: int = 64) -> CropDataset:
    return CropDataset(images, 16, "noise", length=length, seed=3)


# ---------------------------------------------------------------------- the losses
def test_relative_mse_is_scale_free_and_zero_at_a_match() -> None:
    t = torch.randn(2, 4, 5, 5)
    assert relative_mse(t, t).item() == 0.0
    assert relative_mse(torch.zeros_like(t), t).item() == pytest.approx(1.0)
    assert relative_mse(100 * torch.zeros_like(t), 100 * t).item() == pytest.approx(1.0)
    assert relative_mse(1.5 * t, t).item() == pytest.approx(0.25, rel=1e-5)


def test_attention_transfer_ignores_channels_and_scale() -> None:
    torch.manual_seed(0)
    t = torch.randn(2, 8, 6, 6)
    # the same spatial energy in fewer channels, and any scale, is a perfect match
    s = torch.sqrt(t.pow(2).mean(dim=1, keepdim=True)).expand(2, 3, 6, 6) * 7.0
    assert attention_transfer(s, t).item() == pytest.approx(0.0, abs=1e-6)
    other = torch.randn(2, 3, 6, 6)
    value = attention_transfer(other, t).item()
    assert 0.0 < value <= 4.0  # two unit vectors are at most 2 apart


def test_mse_needs_equal_shapes_and_says_attention_would_not() -> None:
    with pytest.raises(TrainingError, match=r"2×3×6×6.*2×8×6×6.*'attention' accepts"):
        relative_mse(torch.zeros(2, 3, 6, 6), torch.zeros(2, 8, 6, 6))
    with pytest.raises(TrainingError, match="batch and spatial size"):
        attention_transfer(torch.zeros(2, 3, 6, 6), torch.zeros(2, 3, 3, 3))


def test_feature_loss_registry() -> None:
    assert {"mse", "attention"} <= set(list_feature_losses())
    assert get_feature_loss("mse") is relative_mse
    with pytest.raises(TrainingError, match=r"feature_loss: unknown feature loss 'atention'.*did you mean 'attention'"):
        get_feature_loss("atention")


# ---------------------------------------------------------------------- pairs and hooks
def test_feature_pairs() -> None:
    assert feature_pairs(["0", ("2", "1")]) == [("0", "0"), ("2", "1")]
    for bad in ([], "0", [("0",)], [3]):
        with pytest.raises(TrainingError, match="features"):
            feature_pairs(bad)  # type: ignore[arg-type]


def test_unknown_module_names_the_top_level_ones() -> None:
    with pytest.raises(TrainingError, match=r"the student has no module 'encoder'.*top-level modules: 0, 1, 2"):
        FeatureRecorder(_net(0), ["encoder"], "student")


def test_recorder_hooks_are_removed() -> None:
    net = _net(0)
    recorder = FeatureRecorder(net, ["0"], "student")
    with recorder.attached():
        net(torch.zeros(1, 3, 8, 8))
        (feature,) = recorder.take()
        assert feature.shape == (1, 4, 8, 8)
        with pytest.raises(TrainingError, match="did not run"):
            recorder.take()
    assert not net[0]._forward_hooks


# ---------------------------------------------------------------------- distill with features
def test_distill_adds_the_weighted_feature_term(images: list[np.ndarray]) -> None:
    data = _data(images)
    student, teacher = _net(0), _net(1)
    result = distill(
        student, teacher, data, steps=1, batch_size=2, alpha=0.0, features=["0"], feature_weight=3.0, progress=False
    )
    entry = result.history[0]
    # recompute the step-1 loss with the initial weights
    indices = next(iter(StepBatches(len(data), 2, 0, 1)))
    degraded = torch.stack([data[i][0] for i in indices])
    s0, t0 = _net(0), _net(1)
    with torch.no_grad():
        expected_features = relative_mse(s0[0](degraded), t0[0](degraded)).item()
    assert entry["loss_features"] == pytest.approx(expected_features, rel=1e-5)
    assert entry["loss"] == pytest.approx(entry["loss_clean"] + 3.0 * expected_features, rel=1e-5)
    assert "loss_teacher" not in entry  # α = 0: only the features come from the teacher
    assert not any(m._forward_hooks for m in student.modules())
    assert not any(m._forward_hooks for m in teacher.modules())
    assert set(student.state_dict()) == set(_net(0).state_dict())  # no adapter was added


def test_feature_distillation_pulls_student_features_to_the_teacher(images: list[np.ndarray]) -> None:
    data = _data(images, length=16)
    teacher = _net(1)
    kwargs = {"steps": 30, "batch_size": 4, "lr": 1e-2, "alpha": 0.0, "progress": False}
    plain = distill(_net(0), teacher, data, **kwargs).model
    pulled = distill(_net(0), teacher, data, features=["0"], feature_weight=10.0, **kwargs).model
    x = torch.stack([data[i][0] for i in range(8)])
    with torch.no_grad():
        gap_plain = relative_mse(plain[0](x), teacher[0](x)).item()
        gap_pulled = relative_mse(pulled[0](x), teacher[0](x)).item()
    assert gap_pulled < 0.5 * gap_plain


def test_attention_pairs_a_narrow_student_with_a_wide_teacher(images: list[np.ndarray]) -> None:
    result = distill(
        _net(0, width=2),
        _net(1, width=6),
        _data(images),
        steps=2,
        batch_size=2,
        features=[("1", "1")],
        feature_loss="attention",
        progress=False,
    )
    assert all(np.isfinite(e["loss_features"]) for e in result.history)
    with pytest.raises(TrainingError, match="'attention' accepts"):
        distill(
            _net(0, width=2), _net(1, width=6), _data(images), steps=1, batch_size=2, features=["1"], progress=False
        )


def test_cached_and_uncached_teacher_features_agree(images: list[np.ndarray]) -> None:
    logs: list[list[dict[str, float]]] = [[], []]
    for cache, log in zip((False, True), logs):
        distill(
            _net(0), _net(1), _data(images, length=4), steps=6, batch_size=2, cache=cache, features=["0", "2"],
            log=log, progress=False,
        )  # fmt: skip
    assert [e["loss_features"] for e in logs[0]] == pytest.approx([e["loss_features"] for e in logs[1]], rel=1e-5)


def test_bad_feature_weight() -> None:
    for bad in (0, -1.0, float("nan"), "1"):
        with pytest.raises(TrainingError, match="feature_weight must be a finite number > 0"):
            distill(_net(0), _net(1), _data([np.zeros((20, 20, 3), np.float32)]), steps=1, feature_weight=bad)  # type: ignore[arg-type]


def test_resume_with_features_is_exact_and_refuses_other_features(images: list[np.ndarray], tmp_path: Path) -> None:
    kwargs = {"steps": 4, "batch_size": 2, "features": ["0"], "progress": False}
    full = distill(_net(0), _net(1), _data(images), **kwargs)

    class Stop(Exception):
        pass

    def stop(entry: dict[str, float]) -> None:
        if entry["step"] == 2:
            raise Stop

    with pytest.raises(Stop):
        distill(_net(0), _net(1), _data(images), checkpoint_dir=tmp_path, checkpoint_every=1, log=stop, **kwargs)
    with pytest.raises(TrainingError, match="features"):
        distill(
            _net(0), _net(1), _data(images), checkpoint_dir=tmp_path, resume=True,
            **{**kwargs, "features": ["2"]},
        )  # fmt: skip
    resumed = distill(_net(0), _net(1), _data(images), checkpoint_dir=tmp_path, resume=True, **kwargs)
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
