"""Plain convolutional blocks: operators every mobile NPU runs natively."""

from __future__ import annotations

import torch
from torch import nn

from nasbench.blocks.registry import register_block


@register_block("conv_bn_relu", tags=("foldable", "npu_native"))
class ConvBNReLUBlock(nn.Module):
    """Residual 3×3 Conv-BN-ReLU: x + ReLU(BN(Conv3×3(x))); folds to one conv + ReLU (+ add).

    The residual is added after the ReLU (our choice), so the block can only add to the feature stream
    and never clips the signed features that the surrounding U-Net carries.
    """

    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.act(self.bn(self.conv(x)))


@register_block("lite", tags=("npu_native",))
class LiteDenoisingBlock(nn.Module):
    """LiteDenoiseNet block: ReLU(x + Conv3×3(c/2→c)(ReLU(Conv3×3(c→c/2)(x)))).

    ``hidden_ratio`` sets the inner width (0.5 in the published network); the inner width is
    ``max(1, int(channels · hidden_ratio))``.
    """

    def __init__(self, channels: int, hidden_ratio: float = 0.5) -> None:
        super().__init__()
        if hidden_ratio <= 0:
            raise ValueError(f"hidden_ratio must be > 0, got {hidden_ratio}")
        hidden = max(1, int(channels * hidden_ratio))
        self.conv1 = nn.Conv2d(channels, hidden, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))


@register_block("identity", tags=("npu_native", "skip"))
class IdentityBlock(nn.Module):
    """A skip: returns its input. Lets a space remove a block."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x
