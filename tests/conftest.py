"""Shared test helpers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn


def _perturb(module: nn.Module, seed: int = 0, scale: float = 0.2) -> nn.Module:
    """Give every parameter and BatchNorm statistic random non-trivial values, in place.

    NAFNet-style blocks start as the identity (β = γ = 0) and BatchNorm starts with unit statistics;
    tests that compare outputs (ONNX, folding) must not pass merely because a block does nothing.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * scale)
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_var is not None:
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=generator) + 0.5)
    return module


@pytest.fixture
def perturb() -> Callable[..., nn.Module]:
    return _perturb
