"""Facts about particular block families."""

from __future__ import annotations

import pytest
import torch

from nasbench import count_params, create_block
from nasbench.blocks import LayerNorm2d


@pytest.mark.parametrize("c", [8, 32, 64])
def test_naf_parameter_count(c: int) -> None:
    assert count_params(create_block("naf", c)) == 7 * c * c + 33 * c


@pytest.mark.parametrize("name", ["naf", "naf_bn", "naf_lite"])
def test_naf_family_is_identity_at_init(name: str) -> None:
    block = create_block(name, 8).eval()
    x = torch.randn(1, 8, 6, 6)
    with torch.no_grad():
        assert torch.equal(block(x), x)


def test_layernorm2d_normalises_each_pixel_over_channels() -> None:
    x = torch.randn(2, 5, 3, 4) * 3 + 1
    y = LayerNorm2d(5)(x)
    torch.testing.assert_close(y.mean(1), torch.zeros(2, 3, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(1, unbiased=False), torch.ones(2, 3, 4), atol=1e-4, rtol=0)
    # not GroupNorm(1, C): statistics are per pixel, not over the whole image
    gn = torch.nn.GroupNorm(1, 5)(x)
    assert not torch.allclose(y, gn, atol=1e-3)


def test_naf_lite_has_no_global_pool() -> None:
    block = create_block("naf_lite", 8)
    assert not any(isinstance(m, torch.nn.AdaptiveAvgPool2d) for m in block.modules())
    assert count_params(block) == count_params(create_block("naf_bn", 8))


def test_lite_block_matches_published_form(perturb) -> None:
    block = perturb(create_block("lite", 16))
    x = torch.randn(1, 16, 5, 5)
    expected = torch.relu(x + block.conv2(torch.relu(block.conv1(x))))
    torch.testing.assert_close(block(x), expected)
    assert block.conv1.out_channels == 8


def test_restormer_bias_free_norm_has_no_bias() -> None:
    block = create_block("restormer", 48, layernorm="bias_free")
    names = [n for n, _ in block.named_parameters()]
    assert "norm1.body.weight" in names and "norm1.body.bias" not in names
    assert count_params(create_block("restormer", 48)) == 31_279  # the official per-block count at dim 48
