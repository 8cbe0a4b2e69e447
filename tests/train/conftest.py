"""Shared fixtures of the training tests: a tiny network and tiny images."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

import nasbench


@pytest.fixture(scope="session")
def tiny_space() -> nasbench.SearchSpace:
    """nafnet_tiny narrowed to width 8, NAF blocks only: a real U-Net that trains a step in milliseconds."""
    spec = nasbench.load_space("nafnet_tiny").to_dict()
    spec["backbone"]["width"] = 8
    spec["candidates"] = ["naf"]
    return nasbench.SearchSpace.from_dict(spec)


@pytest.fixture
def tiny_model(tiny_space: nasbench.SearchSpace) -> Callable[[int], nn.Module]:
    """``tiny_model(seed)``: a freshly initialised tiny network."""

    def build(seed: int = 0) -> nn.Module:
        torch.manual_seed(seed)
        return tiny_space.build()

    return build


@pytest.fixture
def photo() -> np.ndarray:
    """A 48×64 colour image in [0, 1] with smooth and textured parts."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:64] / 64.0
    image = np.stack([x, y, 0.5 + 0.3 * np.sin(8 * x)], axis=2) * 0.8 + 0.2 * rng.random((48, 64, 3))
    return image.astype(np.float32)
