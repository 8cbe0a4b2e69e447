"""The LiteDenoiseNet U-Net (Kayani et al., CVPRW 2026): NPU-native 3×3 convs, ReLU, nearest up-sampling.

As in the authors' released ``LiteDenoiseNet.py``: 3×3 input conv; per level blocks then a 3×3 stride-2
conv (channels ×2) + ReLU; bottleneck blocks; per level nearest ×2 up-sampling, concatenation with the
skip, a 3×3 fusion conv (no activation), blocks; 3×3 output conv, global residual, clamp to [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nasbench.space.backbones.base import (
    Backbone,
    Stage,
    check_blocks,
    register_backbone,
    unet_stages,
)


@dataclass(frozen=True)
class LiteUNetConfig:
    """``width`` channels at full resolution, doubling per level; blocks per encoder level, in the
    bottleneck and per decoder level (deepest first); ``clamp`` the output to [0, 1]."""

    width: int = 16
    encoder_blocks: tuple[int, ...] = (1, 1, 1, 1)
    bottleneck_blocks: int = 1
    decoder_blocks: tuple[int, ...] = (1, 1, 1, 1)
    in_channels: int = 3
    clamp: bool = True

    def __post_init__(self) -> None:
        if len(self.encoder_blocks) != len(self.decoder_blocks):
            raise ValueError(
                f"encoder_blocks has {len(self.encoder_blocks)} levels but decoder_blocks has "
                f"{len(self.decoder_blocks)}; they must match"
            )
        if self.width < 1 or self.in_channels < 1:
            raise ValueError("width and in_channels must be ≥ 1")


@register_backbone("lite_unet")
class LiteUNet(Backbone):
    """LiteDenoiseNet U-Net with one searchable block per position; input padded to a multiple of 2^levels."""

    Config = LiteUNetConfig

    @classmethod
    def stages(cls, config: LiteUNetConfig) -> list[Stage]:
        return unet_stages(
            config.width, config.encoder_blocks, "bottleneck", config.bottleneck_blocks, config.decoder_blocks
        )

    def __init__(self, config: LiteUNetConfig, blocks: Mapping[str, Sequence[nn.Module]]) -> None:
        super().__init__()
        check_blocks(self.stages(config), blocks)
        self.config = config
        self.in_channels = config.in_channels
        levels = len(config.encoder_blocks)
        self.pad_multiple = 2**levels
        w = config.width
        self.in_conv = nn.Conv2d(config.in_channels, w, 3, padding=1)
        self.encoders = nn.ModuleList(nn.Sequential(*blocks[f"enc{i + 1}"]) for i in range(levels))
        self.downs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(w * 2**i, w * 2 ** (i + 1), 3, stride=2, padding=1), nn.ReLU())
            for i in range(levels)
        )
        self.bottleneck = nn.Sequential(*blocks["bottleneck"])
        self.fuses = nn.ModuleList(
            nn.Conv2d(w * 2**i + w * 2 ** (i - 1), w * 2 ** (i - 1), 3, padding=1) for i in range(levels, 0, -1)
        )
        self.decoders = nn.ModuleList(nn.Sequential(*blocks[f"dec{i}"]) for i in range(levels, 0, -1))
        self.out_conv = nn.Conv2d(w, config.in_channels, 3, padding=1)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        self.check_input(inp)
        h, w = inp.shape[-2:]
        inp = self.pad(inp)
        x = self.in_conv(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.bottleneck(x)
        for fuse, decoder, skip in zip(self.fuses, self.decoders, reversed(skips)):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = decoder(fuse(torch.cat([x, skip], 1)))
        x = self.out_conv(x) + inp
        if self.config.clamp:
            x = x.clamp(0.0, 1.0)
        return x[..., :h, :w]
