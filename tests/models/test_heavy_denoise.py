"""HeavyDenoiseNet: the released teacher's parameter count, padding to a multiple of 8, output range."""

from __future__ import annotations

import pytest
import torch

from nasbench.cost import count_params
from nasbench.errors import ShapeError
from nasbench.models import HeavyDenoiseNet
from nasbench.zoo import create_model, list_models


@pytest.fixture(scope="module")
def net() -> HeavyDenoiseNet:
    torch.manual_seed(0)
    return HeavyDenoiseNet().eval()


def test_parameter_count_matches_the_reference(net: HeavyDenoiseNet) -> None:
    assert count_params(net) == 41_604_998


def test_registered_in_the_zoo() -> None:
    assert "heavy_denoise_net" in list_models()
    assert isinstance(create_model("heavy_denoise_net"), HeavyDenoiseNet)


def test_forward_keeps_a_size_that_is_not_a_multiple_of_8(net: HeavyDenoiseNet) -> None:
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape
    assert y.min() >= 0.0 and y.max() <= 1.0
    assert torch.isfinite(y).all()


def test_rejects_non_rgb(net: HeavyDenoiseNet) -> None:
    with pytest.raises(ShapeError, match="N×3×H×W"):
        net(torch.rand(1, 1, 8, 8))
