"""Normalisation layers shared by the block families."""

from __future__ import annotations

import torch
from torch import nn


class LayerNorm2d(nn.Module):
    """Channel LayerNorm of NAFNet: normalises over C separately at every pixel of N×C×H×W.

    Not ``GroupNorm(1, C)``, which would also normalise over H and W. Mean and biased variance over the
    channel dimension, then a per-channel affine (weight 1, bias 0 at init).
    """

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / (var + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * y + self.bias.view(1, -1, 1, 1)


class RestormerLayerNorm(nn.Module):
    """Restormer's per-pixel channel LayerNorm, ``with_bias`` or ``bias_free`` (eps 1e-5).

    ``bias_free`` divides x itself (not x − mean) by the centred standard deviation and has no bias,
    exactly as the official code does; ``with_bias`` is the usual LayerNorm. Parameters live in
    ``body.weight`` / ``body.bias`` as in the official module tree.
    """

    def __init__(self, channels: int, kind: str = "with_bias") -> None:
        super().__init__()
        if kind not in ("with_bias", "bias_free"):
            raise ValueError(f"layernorm must be 'with_bias' or 'bias_free', got {kind!r}")
        self.body = _RestormerNormBody(channels, with_bias=kind == "with_bias")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _RestormerNormBody(nn.Module):
    def __init__(self, channels: int, with_bias: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels)) if with_bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        scale = self.weight.view(1, -1, 1, 1) / (var + 1e-5).sqrt()
        if self.bias is None:
            return x * scale
        return (x - mu) * scale + self.bias.view(1, -1, 1, 1)
