"""nasbench.train.metrics: PSNR and SSIM on whole images, and evaluate()."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from nasbench.errors import ShapeError
from nasbench.train.data import builtin_images, validation_pairs
from nasbench.train.errors import DataError
from nasbench.train.metrics import evaluate, psnr_db, ssim


def _image(seed: int = 0, size: int = 32) -> torch.Tensor:
    return torch.rand(3, size, size, generator=torch.Generator().manual_seed(seed))


def test_identical_images_give_infinite_psnr_and_unit_ssim() -> None:
    image = _image()
    assert psnr_db(image, image) == math.inf
    assert ssim(image, image) == pytest.approx(1.0)


def test_psnr_matches_its_definition() -> None:
    target = torch.full((3, 16, 16), 0.5)
    pred = target + 0.1  # MSE 0.01 → 20 dB
    assert psnr_db(pred, target) == pytest.approx(20.0, abs=1e-4)  # float32 inputs
    assert psnr_db(pred * 2, target * 2, data_range=2.0) == pytest.approx(20.0, abs=1e-4)


def test_predictions_are_clamped_first() -> None:
    target = torch.ones(3, 16, 16)
    assert psnr_db(target + 0.5, target) == math.inf  # clamped to 1: a perfect white image
    assert psnr_db(target + 0.5, target, clamp=False) == pytest.approx(-20 * math.log10(0.5))


def test_batches_average_per_image() -> None:
    target = torch.stack([_image(1), _image(2)])
    pred = target.clone()
    pred[0] += 0.05
    pred[1] += 0.1
    pred = pred.clamp(0, 1)
    per_image = [psnr_db(pred[i], target[i]) for i in range(2)]
    assert psnr_db(pred, target) == pytest.approx(sum(per_image) / 2)
    assert ssim(pred, target) == pytest.approx((ssim(pred[0], target[0]) + ssim(pred[1], target[1])) / 2)


def test_sigma_25_noise_on_the_validation_photos_is_about_20_2_db() -> None:
    pairs = validation_pairs(builtin_images("val"), "noise")
    for degraded, clean in pairs:
        assert psnr_db(degraded, clean, clamp=False) == pytest.approx(20 * math.log10(255 / 25), abs=0.3)
        assert ssim(degraded, clean) < 0.6


def test_shape_errors() -> None:
    with pytest.raises(ShapeError, match="pred 3×32×32 and target 3×32×30 must have one shape"):
        psnr_db(_image(), _image()[..., :30])
    with pytest.raises(ShapeError, match="ssim: .*win_size"):
        ssim(torch.rand(3, 5, 5), torch.rand(3, 5, 5))


def test_evaluate_a_tiny_model(tiny_model: Callable[[int], nn.Module]) -> None:
    model = tiny_model(0).train()
    clean = builtin_images("val")
    pairs = validation_pairs(clean, "noise", max_side=40)  # 40 is not a multiple of 16: the model pads
    metrics = evaluate(model, pairs)
    assert set(metrics) == {"psnr_db", "ssim", "input_psnr_db"}
    assert all(np.isfinite(v) for v in metrics.values())
    assert metrics["input_psnr_db"] == pytest.approx(20.2, abs=0.3)
    assert model.training  # mode restored
    identity = nn.Identity()
    identity.register_parameter("p", nn.Parameter(torch.zeros(1)))
    assert evaluate(identity, pairs)["psnr_db"] >= metrics["input_psnr_db"]  # the clamp only helps
    with pytest.raises(DataError, match="no validation pairs"):
        evaluate(model, [])
