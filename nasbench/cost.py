"""Parameter and multiply-accumulate counts."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nasbench.errors import ShapeError, known

MacConvention = Literal["all", "conv"]
_CONV_OPS = ("convolution", "_convolution", "conv2d", "cudnn_convolution")


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared parameters counted once)."""
    seen = {id(p): p for p in model.parameters() if p.requires_grad or not trainable_only}
    return sum(p.numel() for p in seen.values())


def input_shape(input_size: Sequence[int]) -> tuple[int, int, int, int]:
    """Normalise ``(C, H, W)`` or ``(N, C, H, W)`` to an N×C×H×W tuple."""
    size = tuple(int(s) for s in input_size)
    if len(size) == 3:
        size = (1, *size)
    if len(size) != 4 or min(size) < 1:
        raise ShapeError(f"input_size must be (C, H, W) or (N, C, H, W) of positive ints, got {tuple(input_size)}")
    return size  # type: ignore[return-value]


def count_macs(model: nn.Module, input_size: Sequence[int], convention: MacConvention = "all") -> int:
    """Multiply-accumulates of one forward pass at ``input_size`` ((C, H, W) or (N, C, H, W)).

    Counted with torch's own ``FlopCounterMode`` (MACs = FLOPs / 2) on a meta-device copy, so no real
    computation is done. ``convention="all"`` counts convolutions *and* matrix products (Restormer's
    attention matmuls, SSM scans written as matmuls); ``"conv"`` counts convolutions only, the convention
    of most NAFNet/Restormer tables (Restormer at 256²: 140.99 G conv-only, 154.88 G with matmuls).
    Element-wise operations, norms, pooling and biases are not counted in either convention.
    """
    if convention not in ("all", "conv"):
        raise ValueError(f"convention must be one of {known(('all', 'conv'))}, got {convention!r}")
    shape = input_shape(input_size)
    meta = copy.deepcopy(model).to("meta").eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        meta(torch.zeros(shape, device="meta"))
    totals = counter.get_flop_counts().get("Global", {})
    flops = sum(count for op, count in totals.items() if convention == "all" or str(op).split(".")[1] in _CONV_OPS)
    return int(flops // 2)
