"""The NAFNet U-Net (Chen et al., ECCV 2022), with one searchable block per position.

Module names follow the official ``NAFNet_arch.py`` (intro, encoders, downs, middle_blks, ups, decoders,
ending), so the baseline's state dict has the official key layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from nasbench.space.backbones.base import (
    Backbone,
    Stage,
    check_blocks,
    register_backbone,
    unet_stages,
)


@dataclass(frozen=True)
class NAFNetConfig:
    """``width`` channels at full resolution, doubling per level; blocks per encoder level, in the
    middle and per decoder level (decoder listed deepest first, as in the official configs)."""

    width: int = 32
    encoder_blocks: tuple[int, ...] = (2, 2, 4, 8)
    middle_blocks: int = 12
    decoder_blocks: tuple[int, ...] = (2, 2, 2, 2)
    in_channels: int = 3

    def __post_init__(self) -> None:
        if len(self.encoder_blocks) != len(self.decoder_blocks):
            raise ValueError(
                f"encoder_blocks has {len(self.encoder_blocks)} levels but decoder_blocks has "
                f"{len(self.decoder_blocks)}; they must match"
            )
        if self.width < 1 or self.in_channels < 1:
            raise ValueError("width and in_channels must be ≥ 1")
        if any(n < 0 for n in (*self.encoder_blocks, *self.decoder_blocks, self.middle_blocks)):
            raise ValueError("block counts must be ≥ 0")


@register_backbone("nafnet")
class NAFNetUNet(Backbone):
    """NAFNet U-Net: 3×3 intro, per level blocks then a 2×2 stride-2 conv (channels ×2), middle blocks,
    per level a 1×1 conv + PixelShuffle(2) up-sampler, additive skip, blocks; 3×3 ending; global residual.
    The input is zero-padded to a multiple of 2^levels and the output cropped back."""

    Config = NAFNetConfig

    @classmethod
    def stages(cls, config: NAFNetConfig) -> list[Stage]:
        return unet_stages(config.width, config.encoder_blocks, "middle", config.middle_blocks, config.decoder_blocks)

    def __init__(self, config: NAFNetConfig, blocks: Mapping[str, Sequence[nn.Module]]) -> None:
        super().__init__()
        stages = self.stages(config)
        check_blocks(stages, blocks)
        self.config = config
        self.in_channels = config.in_channels
        levels = len(config.encoder_blocks)
        self.pad_multiple = 2**levels
        width = config.width
        self.intro = nn.Conv2d(config.in_channels, width, 3, padding=1)
        self.ending = nn.Conv2d(width, config.in_channels, 3, padding=1)
        self.encoders = nn.ModuleList(nn.Sequential(*blocks[f"enc{i + 1}"]) for i in range(levels))
        self.downs = nn.ModuleList(nn.Conv2d(width * 2**i, width * 2 ** (i + 1), 2, 2) for i in range(levels))
        self.middle_blks = nn.Sequential(*blocks["middle"])
        self.ups = nn.ModuleList(
            nn.Sequential(nn.Conv2d(width * 2**i, width * 2 ** (i + 1), 1, bias=False), nn.PixelShuffle(2))
            for i in range(levels, 0, -1)
        )
        self.decoders = nn.ModuleList(nn.Sequential(*blocks[f"dec{i}"]) for i in range(levels, 0, -1))

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        self.check_input(inp)
        h, w = inp.shape[-2:]
        inp = self.pad(inp)
        x = self.intro(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle_blks(x)
        for decoder, up, skip in zip(self.decoders, self.ups, reversed(skips)):
            x = decoder(up(x) + skip)
        x = self.ending(x) + inp
        return x[..., :h, :w]
