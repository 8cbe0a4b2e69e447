"""The NAFNet block family: the original NAFBlock and its hardware-friendly alternatives (ERN-Net).

All three share one skeleton — two pre-norm residual halves scaled by zero-initialised β and γ — and
differ only in the normalisation and in the attention of the first half:

============  ==============  ====================================================================
block         norm            attention after SimpleGate
============  ==============  ====================================================================
``naf``       LayerNorm2d     SCA: global average pool → 1×1 conv → multiply (official NAFNet)
``naf_bn``    BatchNorm2d     SCA, as ``naf``; the norm folds into the next 1×1 conv at export
``naf_lite``  BatchNorm2d     pool-free gate: x ⊙ Conv1×1(x) (our choice, see below)
============  ==============  ====================================================================

``naf_lite`` — our choice, not the paper's: the ERN-Net paper names a "simplified attention" alternative
but not its layers. We replace SCA's global average pool (a full-tensor reduction and a synchronisation
point on NPUs) by a per-pixel 1×1 convolution whose output multiplies the features. It keeps SCA's
multiplicative channel interaction and its parameter count, uses only Conv and Mul, and has no global
reduction, so tiles and streams of an image are processed independently.
"""

from __future__ import annotations

import torch
from torch import nn

from nasbench.blocks.norms import LayerNorm2d
from nasbench.blocks.registry import register_block


class SimpleGate(nn.Module):
    """Split the channels in two halves and multiply them: N×2C×H×W → N×C×H×W."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        return x1 * x2


class PixelGate(nn.Module):
    """Pool-free attention of ``naf_lite``: x ⊙ Conv1×1(x)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv(x)


class _SimplifiedChannelAttention(nn.Sequential):
    """SCA: global average pool then a 1×1 conv, no sigmoid (module layout as the official ``sca``)."""

    def __init__(self, channels: int) -> None:
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, channels, 1, bias=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * super().forward(x)


_NORMS = {"layer": LayerNorm2d, "batch": nn.BatchNorm2d}
_ATTENTIONS = {"sca": _SimplifiedChannelAttention, "pixel_gate": PixelGate}


class _NAFSkeleton(nn.Module):
    """NAFBlock skeleton; parameter names follow the official ``NAFBlock`` (conv1..conv5, sca, β, γ)."""

    def __init__(
        self, channels: int, norm: str, attention: str, dw_expand: int, ffn_expand: int, dropout: float
    ) -> None:
        super().__init__()
        if dw_expand < 1 or ffn_expand < 1:
            raise ValueError(f"dw_expand and ffn_expand must be ≥ 1, got {dw_expand}, {ffn_expand}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        c, dw, ffn = channels, channels * dw_expand, channels * ffn_expand
        if dw % 2 or ffn % 2:
            raise ValueError(f"channels × expand must be even for SimpleGate, got dw={dw}, ffn={ffn}")
        self.norm1 = _NORMS[norm](c)
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.sg = SimpleGate()
        self.sca = _ATTENTIONS[attention](dw // 2)
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.dropout1 = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.norm2 = _NORMS[norm](c)
        self.conv4 = nn.Conv2d(c, ffn, 1)
        self.conv5 = nn.Conv2d(ffn // 2, c, 1)
        self.dropout2 = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        # β = γ = 0: the block starts as the identity, as in the official code.
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(self.norm1(inp)))
        x = self.conv3(self.sca(self.sg(x)))
        y = inp + self.dropout1(x) * self.beta
        x = self.conv5(self.sg(self.conv4(self.norm2(y))))
        return y + self.dropout2(x) * self.gamma


@register_block("naf", tags=("nafnet", "layernorm", "global_pool"))
class NAFBlock(_NAFSkeleton):
    """NAFBlock exactly as the official NAFNet: LayerNorm2d, SimpleGate, SCA; 7c² + 33c parameters."""

    def __init__(self, channels: int, dw_expand: int = 2, ffn_expand: int = 2, dropout: float = 0.0) -> None:
        super().__init__(channels, "layer", "sca", dw_expand, ffn_expand, dropout)


@register_block("naf_bn", tags=("nafnet", "foldable", "global_pool"))
class NAFBNBlock(_NAFSkeleton):
    """NAFBlock with BatchNorm2d in place of LayerNorm2d; the norms fold into conv1/conv4 at export."""

    def __init__(self, channels: int, dw_expand: int = 2, ffn_expand: int = 2, dropout: float = 0.0) -> None:
        super().__init__(channels, "batch", "sca", dw_expand, ffn_expand, dropout)


@register_block("naf_lite", tags=("nafnet", "foldable"))
class NAFLiteBlock(_NAFSkeleton):
    """NAFBlock with BatchNorm2d and a pool-free pixel gate instead of channel attention (our choice)."""

    def __init__(self, channels: int, dw_expand: int = 2, ffn_expand: int = 2, dropout: float = 0.0) -> None:
        super().__init__(channels, "batch", "pixel_gate", dw_expand, ffn_expand, dropout)
