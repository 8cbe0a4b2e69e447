"""Restormer's TransformerBlock: MDTA (transposed attention over channels) and GDFN.

Module and parameter names follow the official ``restormer_arch.py`` (norm1, attn.{temperature, qkv,
qkv_dwconv, project_out}, norm2, ffn.{project_in, dwconv, project_out}).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nasbench.blocks.norms import RestormerLayerNorm
from nasbench.blocks.registry import register_block


class MDTA(nn.Module):
    """Multi-Dconv head Transposed Attention: attention over channels, cost linear in H·W.

    q, k, v from a 1×1 then a depthwise 3×3 conv; q and k L2-normalised over the spatial axis;
    attention (heads × C/heads × C/heads) scaled by a learnable per-head temperature.
    """

    def __init__(self, channels: int, heads: int, bias: bool) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(channels, channels * 3, 1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(channels * 3, channels * 3, 3, padding=1, groups=channels * 3, bias=bias)
        self.project_out = nn.Conv2d(channels, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        q = F.normalize(q.reshape(n, self.heads, c // self.heads, h * w), dim=-1)
        k = F.normalize(k.reshape(n, self.heads, c // self.heads, h * w), dim=-1)
        v = v.reshape(n, self.heads, c // self.heads, h * w)
        attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(dim=-1)
        return self.project_out((attn @ v).reshape(n, c, h, w))


class GDFN(nn.Module):
    """Gated-Dconv feed-forward: 1×1 → depthwise 3×3 → GELU(x1) ⊙ x2 → 1×1; hidden = int(C · expansion)."""

    def __init__(self, channels: int, expansion: float, bias: bool) -> None:
        super().__init__()
        hidden = int(channels * expansion)
        if hidden < 1:
            raise ValueError(f"ffn_expansion {expansion} leaves no hidden channels at {channels} channels")
        self.project_in = nn.Conv2d(channels, hidden * 2, 1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2, bias=bias)
        self.project_out = nn.Conv2d(hidden, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(x1) * x2)


@register_block("restormer", tags=("transformer", "layernorm", "attention"))
class RestormerBlock(nn.Module):
    """Restormer TransformerBlock: x + MDTA(LN(x)), then x + GDFN(LN(x)).

    ``layernorm`` is ``"with_bias"`` (deblurring, deraining) or ``"bias_free"`` (denoising configs);
    ``heads`` must divide ``channels``; ``bias`` applies to every conv (False in the released configs).
    """

    def __init__(
        self,
        channels: int,
        heads: int = 1,
        ffn_expansion: float = 2.66,
        bias: bool = False,
        layernorm: str = "with_bias",
    ) -> None:
        super().__init__()
        if heads < 1 or channels % heads:
            raise ValueError(f"heads={heads} must be ≥ 1 and divide channels={channels}")
        self.norm1 = RestormerLayerNorm(channels, layernorm)
        self.attn = MDTA(channels, heads, bias)
        self.norm2 = RestormerLayerNorm(channels, layernorm)
        self.ffn = GDFN(channels, ffn_expansion, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))
