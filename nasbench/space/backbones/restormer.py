"""The Restormer U-Net (Zamir et al., CVPR 2022), with one searchable block per position.

Module names follow the official ``restormer_arch.py`` (patch_embed, encoder_level1..3, latent,
down*/up*, reduce_chan_level*, decoder_level1..3, refinement, output).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from nasbench.space.backbones.base import Backbone, Stage, check_blocks, register_backbone


@dataclass(frozen=True)
class RestormerConfig:
    """Restormer's settings: ``dim`` channels at level 1, blocks per level [L1, L2, L3, latent],
    refinement blocks, heads per level, GDFN expansion, conv bias and the LayerNorm kind."""

    dim: int = 48
    num_blocks: tuple[int, ...] = (4, 6, 6, 8)
    refinement_blocks: int = 4
    heads: tuple[int, ...] = (1, 2, 4, 8)
    ffn_expansion: float = 2.66
    bias: bool = False
    layernorm: Literal["with_bias", "bias_free"] = "with_bias"
    in_channels: int = 3

    def __post_init__(self) -> None:
        if len(self.num_blocks) != 4 or len(self.heads) != 4:
            raise ValueError("num_blocks and heads need 4 entries each (levels 1-3 and latent)")
        if self.dim < 1 or self.in_channels < 1:
            raise ValueError("dim and in_channels must be ≥ 1")
        for level, h in enumerate(self.heads):
            if h < 1 or (self.dim * 2**level) % h:
                raise ValueError(f"heads[{level}]={h} must divide the level's {self.dim * 2**level} channels")


class _Resample(nn.Module):
    """Conv 3×3 then Pixel(Un)Shuffle(2), held in ``body`` as in the official Downsample/Upsample."""

    def __init__(self, channels: int, out: int, shuffle: nn.Module) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, out, 3, padding=1, bias=False), shuffle)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _PatchEmbed(nn.Module):
    def __init__(self, in_channels: int, dim: int) -> None:
        super().__init__()
        # The official OverlapPatchEmbed never takes the config's bias: always bias-free.
        self.proj = nn.Conv2d(in_channels, dim, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


@register_backbone("restormer")
class RestormerUNet(Backbone):
    """Restormer U-Net: 3-level encoder + latent, conv+PixelUnshuffle down, conv+PixelShuffle up,
    concatenated skips (1×1 reduction at levels 3 and 2, none at level 1: 2·dim channels), refinement
    stage at 2·dim, 3×3 output conv plus the input image. Input padded to a multiple of 8."""

    Config = RestormerConfig

    @classmethod
    def stages(cls, config: RestormerConfig) -> list[Stage]:
        d, nb, hd = config.dim, config.num_blocks, config.heads

        def stage(name: str, channels: int, resolution: int, blocks: int, heads: int) -> Stage:
            options = {
                "heads": heads,
                "ffn_expansion": config.ffn_expansion,
                "bias": config.bias,
                "layernorm": config.layernorm,
            }
            return Stage(name, channels, resolution, blocks, {"restormer": options})

        return [
            stage("enc1", d, 1, nb[0], hd[0]),
            stage("enc2", d * 2, 2, nb[1], hd[1]),
            stage("enc3", d * 4, 4, nb[2], hd[2]),
            stage("latent", d * 8, 8, nb[3], hd[3]),
            stage("dec3", d * 4, 4, nb[2], hd[2]),
            stage("dec2", d * 2, 2, nb[1], hd[1]),
            stage("dec1", d * 2, 1, nb[0], hd[0]),
            stage("refine", d * 2, 1, config.refinement_blocks, hd[0]),
        ]

    def __init__(self, config: RestormerConfig, blocks: Mapping[str, Sequence[nn.Module]]) -> None:
        super().__init__()
        check_blocks(self.stages(config), blocks)
        self.config = config
        self.in_channels = config.in_channels
        self.pad_multiple = 8
        d, bias = config.dim, config.bias
        self.patch_embed = _PatchEmbed(config.in_channels, d)
        self.encoder_level1 = nn.Sequential(*blocks["enc1"])
        self.down1_2 = _Resample(d, d // 2, nn.PixelUnshuffle(2))
        self.encoder_level2 = nn.Sequential(*blocks["enc2"])
        self.down2_3 = _Resample(d * 2, d, nn.PixelUnshuffle(2))
        self.encoder_level3 = nn.Sequential(*blocks["enc3"])
        self.down3_4 = _Resample(d * 4, d * 2, nn.PixelUnshuffle(2))
        self.latent = nn.Sequential(*blocks["latent"])
        self.up4_3 = _Resample(d * 8, d * 16, nn.PixelShuffle(2))
        self.reduce_chan_level3 = nn.Conv2d(d * 8, d * 4, 1, bias=bias)
        self.decoder_level3 = nn.Sequential(*blocks["dec3"])
        self.up3_2 = _Resample(d * 4, d * 8, nn.PixelShuffle(2))
        self.reduce_chan_level2 = nn.Conv2d(d * 4, d * 2, 1, bias=bias)
        self.decoder_level2 = nn.Sequential(*blocks["dec2"])
        self.up2_1 = _Resample(d * 2, d * 4, nn.PixelShuffle(2))
        self.decoder_level1 = nn.Sequential(*blocks["dec1"])
        self.refinement = nn.Sequential(*blocks["refine"])
        self.output = nn.Conv2d(d * 2, config.in_channels, 3, padding=1, bias=bias)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        self.check_input(inp)
        h, w = inp.shape[-2:]
        inp = self.pad(inp)
        e1 = self.encoder_level1(self.patch_embed(inp))
        e2 = self.encoder_level2(self.down1_2(e1))
        e3 = self.encoder_level3(self.down2_3(e2))
        x = self.latent(self.down3_4(e3))
        x = self.decoder_level3(self.reduce_chan_level3(torch.cat([self.up4_3(x), e3], 1)))
        x = self.decoder_level2(self.reduce_chan_level2(torch.cat([self.up3_2(x), e2], 1)))
        x = self.decoder_level1(torch.cat([self.up2_1(x), e1], 1))
        x = self.output(self.refinement(x)) + inp
        return x[..., :h, :w]
