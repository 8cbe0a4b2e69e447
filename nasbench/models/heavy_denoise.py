"""HeavyDenoiseNet: the 41.6 M-parameter U-Net teacher released with LiteDenoiseNet (arXiv 2605.03680,
``ab/nn/nn/HeavyDenoiseNet.py`` in ABrain-One/nn-dataset PR #233), rebuilt from the layer-by-layer
description in design/reference/papers.md §4.

The description leaves three details open. These choices make :func:`~nasbench.cost.count_params`
exactly **41,604,998**, the count the reference gives (teacher/student ratio 21.19 ≈ the paper's 21.2×):

* every PReLU has one slope **per channel** (``nn.PReLU(c)``), including the last one on 3 channels
  (a single shared slope gives 41,595,592);
* the up-sampling ``ConvTranspose2d(2, stride 2)`` **keeps the channel count** of the level below
  (512→512, 256→256, 128→128); the concatenation with the skip is followed by a 3×3 conv that maps
  (below + skip) channels to the skip's width (768→256, 384→128, 192→64). Halving the channels in the
  transposed conv instead gives 40,141,830;
* every convolution has a **bias**.

Shapes: input N×3×H×W, RGB in [0, 1], any H, W ≥ 1 (padded to a multiple of 8 inside, cropped back);
output N×3×H×W in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nasbench.errors import ShapeError
from nasbench.zoo import register_model

# Three stride-2 down-samplings: spatial sizes must be multiples of 2³.
_MULTIPLE = 8


def _conv_prelu(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    # Odd kernels keep the size ("same" padding); the 2×2 stride-2 down-sampling conv takes no padding.
    padding = kernel // 2 if kernel % 2 else 0
    conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding)
    return nn.Sequential(conv, nn.PReLU(out_channels))


class DenoisingBlock(nn.Module):
    """Dense block of four 3×3 conv + PReLU layers with a local residual; N×c×H×W → N×c×H×W.

    Each layer sees the block input and every earlier layer's output:
    c → c/2; c + c/2 → c/2; c + c → c/2; c + 3c/2 → c.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        half = channels // 2
        self.layer1 = _conv_prelu(channels, half)
        self.layer2 = _conv_prelu(channels + half, half)
        self.layer3 = _conv_prelu(channels + 2 * half, half)
        self.layer4 = _conv_prelu(channels + 3 * half, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y1 = self.layer1(x)
        y2 = self.layer2(torch.cat([x, y1], dim=1))
        y3 = self.layer3(torch.cat([x, y1, y2], dim=1))
        y4 = self.layer4(torch.cat([x, y1, y2, y3], dim=1))
        return x + y4


class _Up(nn.Module):
    """ConvTranspose2d(k2, s2) + PReLU at the lower level's width, concat with the skip, 3×3 conv + PReLU
    to the skip's width."""

    def __init__(self, below: int, skip: int) -> None:
        super().__init__()
        self.up = nn.Sequential(nn.ConvTranspose2d(below, below, 2, stride=2), nn.PReLU(below))
        self.fuse = _conv_prelu(below + skip, skip)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([self.up(x), skip], dim=1))


class HeavyDenoiseNet(nn.Module):
    """U-Net teacher: widths 64/128/256, bottleneck 512, two :class:`DenoisingBlock` per level
    (6 encoder, 2 bottleneck, 6 decoder), global residual, output clamped to [0, 1]."""

    def __init__(self, widths: tuple[int, int, int, int] = (64, 128, 256, 512)) -> None:
        super().__init__()
        self.widths = widths
        self.input_block = nn.Sequential(_conv_prelu(3, widths[0]), _conv_prelu(widths[0], widths[0]))
        self.encoders = nn.ModuleList(nn.Sequential(DenoisingBlock(w), DenoisingBlock(w)) for w in widths[:3])
        self.downs = nn.ModuleList(_conv_prelu(a, b, kernel=2, stride=2) for a, b in zip(widths[:3], widths[1:]))
        self.bottleneck = nn.Sequential(DenoisingBlock(widths[3]), DenoisingBlock(widths[3]))
        self.ups = nn.ModuleList(_Up(below, skip) for skip, below in zip(widths[:3], widths[1:]))
        self.decoders = nn.ModuleList(nn.Sequential(DenoisingBlock(w), DenoisingBlock(w)) for w in widths[:3])
        self.output_block = nn.Sequential(_conv_prelu(widths[0], widths[0]), _conv_prelu(widths[0], 3))
        self._init_weights()

    def _init_weights(self) -> None:
        # Kaiming-normal as in the reference; the gain uses PReLU's initial slope 0.25 (our choice — the
        # reference does not say which non-linearity it assumes). Biases start at zero.
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
                nn.init.kaiming_normal_(m.weight, a=0.25, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ShapeError(f"HeavyDenoiseNet: expected N×3×H×W, got {'×'.join(map(str, x.shape))}")
        height, width = x.shape[-2:]
        # Replicate padding works at any size (reflect needs the pad to be smaller than the image).
        pad_h, pad_w = -height % _MULTIPLE, -width % _MULTIPLE
        padded = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
        y = self.input_block(padded)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            y = encoder(y)
            skips.append(y)
            y = down(y)
        y = self.bottleneck(y)
        for level in reversed(range(len(self.ups))):
            y = self.decoders[level](self.ups[level](y, skips[level]))
        y = self.output_block(y) + padded
        return y[..., :height, :width].clamp(0.0, 1.0)


@register_model("heavy_denoise_net")
def heavy_denoise_net() -> HeavyDenoiseNet:
    """HeavyDenoiseNet, the LiteDenoiseNet paper's teacher: 41,604,998 parameters."""
    return HeavyDenoiseNet()


__all__ = ["DenoisingBlock", "HeavyDenoiseNet", "heavy_denoise_net"]
