"""Every registered block, exercised through the registry (timm-style parametrisation)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import nasbench
from nasbench.blocks import block_info, create_block, list_blocks, register_block, unregister_block
from nasbench.deploy import export_onnx, verify_onnx

CHANNELS = 16
SHAPE = (2, CHANNELS, 12, 10)


@pytest.fixture(params=list_blocks())
def block_name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_builtin_blocks_registered() -> None:
    assert set(list_blocks()) >= {"naf", "naf_bn", "naf_lite", "conv_bn_relu", "restormer", "ssm", "lite", "identity"}


def test_forward_keeps_shape(block_name: str) -> None:
    block = create_block(block_name, CHANNELS)
    assert block(torch.randn(SHAPE)).shape == SHAPE


def test_backward_reaches_input_and_parameters(block_name: str, perturb) -> None:
    block = perturb(create_block(block_name, CHANNELS))
    x = torch.randn(SHAPE, requires_grad=True)
    block(x).square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for name, p in block.named_parameters():
        assert p.grad is not None, f"{block_name}: {name} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{block_name}: {name} has a non-finite gradient"


def test_eval_is_deterministic(block_name: str, perturb) -> None:
    block = perturb(create_block(block_name, CHANNELS)).eval()
    x = torch.randn(SHAPE)
    with torch.no_grad():
        assert torch.equal(block(x), block(x))


def test_onnx_export_agrees_with_pytorch(block_name: str, perturb, tmp_path) -> None:
    block = perturb(create_block(block_name, CHANNELS), seed=1).eval()
    path = export_onnx(block, tmp_path / f"{block_name}.onnx", (1, CHANNELS, 12, 10))
    check = verify_onnx(block, path, (1, CHANNELS, 12, 10))
    assert check.max_abs_diff <= 1e-4, f"{block_name}: max |onnx - torch| = {check.max_abs_diff}"


def test_unknown_block_error_names_known_blocks() -> None:
    with pytest.raises(nasbench.BlockError, match=r"unknown block 'nafbn'.*known: .*naf_bn.*did you mean 'naf_bn'"):
        create_block("nafbn", 8)


def test_unknown_option_error_names_allowed_options() -> None:
    with pytest.raises(nasbench.BlockError, match=r"block 'naf' has no option 'expand' \(known: dw_expand"):
        create_block("naf", 8, expand=2)


@pytest.mark.parametrize("channels", [0, -3, 2.5, True])
def test_bad_channels(channels: object) -> None:
    with pytest.raises(nasbench.BlockError, match="channels must be a positive integer"):
        create_block("naf", channels)  # type: ignore[arg-type]


def test_restormer_heads_must_divide_channels() -> None:
    with pytest.raises(nasbench.BlockError, match=r"heads=3 must be ≥ 1 and divide channels=16"):
        create_block("restormer", 16, heads=3)


def test_register_user_block_and_options() -> None:
    @register_block("test_scaled_conv", tags=("user",))
    class ScaledConv(nn.Module):
        """A user block for the test."""

        def __init__(self, channels: int, scale: float = 1.0) -> None:
            super().__init__()
            self.conv = nn.Conv2d(channels, channels, 3, padding=1)
            self.scale = scale

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.scale * self.conv(x)

    try:
        assert "test_scaled_conv" in list_blocks(tag="user")
        assert block_info("test_scaled_conv").options == {"scale": 1.0}
        assert create_block("test_scaled_conv", 4, scale=0.5).scale == 0.5
        with pytest.raises(nasbench.BlockError, match="already registered"):
            register_block("test_scaled_conv")(type("Other", (nn.Module,), {"__init__": ScaledConv.__init__}))
    finally:
        unregister_block("test_scaled_conv")
    assert "test_scaled_conv" not in list_blocks()


def test_register_rejects_non_modules() -> None:
    with pytest.raises(nasbench.BlockError, match="not an nn.Module class"):
        register_block("test_bad")(int)  # type: ignore[arg-type]
