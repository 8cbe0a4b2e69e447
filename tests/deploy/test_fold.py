"""BatchNorm folding: same outputs, no BatchNorm left, none in the ONNX graph, input untouched."""

from __future__ import annotations

import copy
import itertools

import onnx
import pytest
import torch
from torch import nn

import nasbench
from nasbench import export_onnx, load_space
from nasbench.deploy import (
    fold_batchnorm,
    fold_bn_into_conv,
    fold_rules,
    fuse_conv_bn,
    register_fold_rule,
    unregister_fold_rule,
)

FOLDABLE = nasbench.list_blocks(tag="foldable")
# BN before a conv: the dynamo exporter's optimiser does not fuse it, so these tests have teeth.
BN_BEFORE_CONV = {"naf_bn", "naf_lite"}


def _batchnorms(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _max_diff(a: nn.Module, b: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        return float((a.eval()(x) - b(x)).abs().max())


def _onnx_ops(path) -> list[str]:
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def test_the_foldable_blocks_are_the_ones_with_rules() -> None:
    assert FOLDABLE == ["conv_bn_relu", "naf_bn", "naf_lite"]
    rules = fold_rules()
    for name in FOLDABLE:
        assert nasbench.blocks.registry.block_info(name).cls in rules


@pytest.mark.parametrize("name", FOLDABLE)
def test_block_folds_exactly(name: str, perturb, tmp_path) -> None:
    block = perturb(nasbench.create_block(name, 8), seed=3).train()
    reference, before = copy.deepcopy(block), _state(block)
    folded = fold_batchnorm(block)
    assert not folded.training
    assert _batchnorms(folded) == []
    assert _max_diff(reference, folded, torch.randn(2, 8, 12, 10)) <= 1e-5
    # The input is untouched: same mode, same modules, same tensors.
    assert block.training
    assert _batchnorms(block)
    assert all(torch.equal(before[k], v) for k, v in block.state_dict().items())
    if name in BN_BEFORE_CONV:
        assert "BatchNormalization" in _onnx_ops(export_onnx(block, tmp_path / "raw.onnx", (1, 8, 8, 8)))
    assert "BatchNormalization" not in _onnx_ops(export_onnx(folded, tmp_path / "folded.onnx", (1, 8, 8, 8)))


def _network(block: str | None, perturb) -> nn.Module:
    """A nafnet_tiny network with ``block`` at every position (None: cycle through the foldable ones)."""
    space = load_space("nafnet_tiny")
    blocks = itertools.cycle(FOLDABLE) if block is None else itertools.repeat(block)
    arch = space.architecture({p.name: b for p, b in zip(space.positions, blocks)})
    return perturb(space.build(arch), seed=1, scale=0.05).eval()


@pytest.mark.parametrize("block", ["naf_bn", "naf_lite", None], ids=["naf_bn", "naf_lite", "mixed"])
def test_network_folds_and_exports_without_batchnorm(block: str | None, perturb, tmp_path) -> None:
    net = _network(block, perturb)
    folded = fold_batchnorm(net)
    assert _batchnorms(folded) == []
    assert _batchnorms(net)
    assert _max_diff(net, folded, torch.rand(1, 3, 32, 32)) <= 1e-4
    ops = _onnx_ops(export_onnx(folded, tmp_path / "folded.onnx", (1, 3, 32, 32)))
    assert "BatchNormalization" not in ops


def test_conv_bn_relu_network_folds(perturb) -> None:
    net = _network("conv_bn_relu", perturb)
    folded = fold_batchnorm(net, strict=True)
    assert _batchnorms(folded) == []
    assert _max_diff(net, folded, torch.rand(1, 3, 32, 32)) <= 1e-4


def test_plain_sequential_conv_bn(perturb) -> None:
    model = perturb(
        nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1, bias=False),
            nn.BatchNorm2d(6),
            nn.ReLU(),
            nn.Conv2d(6, 6, 3, groups=3, padding=1),
            nn.BatchNorm2d(6),
        )
    ).eval()
    folded = fold_batchnorm(model)
    assert _batchnorms(folded) == []
    assert isinstance(folded[1], nn.Identity) and isinstance(folded[4], nn.Identity)
    assert _max_diff(model, folded, torch.randn(2, 3, 9, 9)) <= 1e-5


def test_sequential_subclass_and_bn_first_are_left_alone(perturb) -> None:
    class Gated(nn.Sequential):  # a custom forward: the Conv → BN data flow is not guaranteed
        def forward(self, x):
            return x * super().forward(x)

    model = perturb(
        nn.Sequential(nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3, padding=1), Gated(nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)))
    ).eval()
    folded = fold_batchnorm(model)
    assert _batchnorms(folded) == ["0", "2.1"]
    assert _max_diff(model, folded, torch.randn(1, 4, 6, 6)) == 0.0
    with pytest.raises(
        nasbench.ExportError, match=r"2 BatchNorm module\(s\) could not fold: 0, 2.1 .*register_fold_rule"
    ):
        fold_batchnorm(model, strict=True)


def test_model_without_batchnorm_is_a_plain_copy() -> None:
    model = nasbench.create_model("lite_denoise_net").train()
    folded = fold_batchnorm(model, strict=True)
    assert folded is not model and not folded.training and model.training
    assert folded.state_dict().keys() == model.state_dict().keys()
    assert all(torch.equal(v, folded.state_dict()[k]) for k, v in model.state_dict().items())
    assert all(p is not q for p, q in zip(model.parameters(), folded.parameters()))


def test_user_fold_rule_is_applied(perturb) -> None:
    class ScaleShift(nn.Module):
        """Conv → BN → 1×1 conv: a user block no built-in rule knows."""

        def __init__(self, channels: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(channels, channels, 3, padding=1)
            self.bn = nn.BatchNorm2d(channels)
            self.out = nn.Conv2d(channels, channels, 1)

        def forward(self, x):
            return self.out(self.bn(self.conv(x)))

    calls = []

    @register_fold_rule(ScaleShift)
    def fold_scale_shift(block: ScaleShift) -> nn.Module:
        calls.append(block)
        return nn.Sequential(fuse_conv_bn(block.conv, block.bn), block.out)

    try:
        model = perturb(nn.Sequential(ScaleShift(4), nn.ReLU(), ScaleShift(4))).eval()
        folded = fold_batchnorm(model, strict=True)
        assert len(calls) == 2
        assert isinstance(folded[0], nn.Sequential) and _batchnorms(folded) == []
        assert _max_diff(model, folded, torch.randn(1, 4, 5, 5)) <= 1e-5
        with pytest.raises(nasbench.ExportError, match="already has the fold rule"):
            register_fold_rule(ScaleShift)(lambda block: block)
    finally:
        unregister_fold_rule(ScaleShift)
    assert ScaleShift not in fold_rules()


def test_shared_module_is_folded_once(perturb) -> None:
    block = nasbench.create_block("conv_bn_relu", 4)
    model = perturb(nn.Sequential(block, nn.ReLU(), block)).eval()
    folded = fold_batchnorm(model)
    assert folded[0] is folded[2]
    assert _max_diff(model, folded, torch.randn(1, 4, 6, 6)) <= 1e-5


def test_batchnorm_without_running_stats_is_an_error() -> None:
    block = nasbench.create_block("naf_bn", 4)
    block.norm2 = nn.BatchNorm2d(4, track_running_stats=False)
    model = nn.Sequential(nn.Identity(), block)
    with pytest.raises(nasbench.ExportError, match=r"^fold_batchnorm: 1 \(NAFBNBlock\): .*no running statistics"):
        fold_batchnorm(model)


def test_bn_into_padded_conv_is_refused(perturb) -> None:
    bn = perturb(nn.BatchNorm2d(4)).eval()
    with pytest.raises(ValueError, match="pads its input"):
        fold_bn_into_conv(bn, nn.Conv2d(4, 4, 3, padding=1))


@pytest.mark.parametrize(("groups", "kernel", "stride"), [(1, 1, 1), (2, 3, 2), (4, 1, 1)])
def test_bn_into_conv_matches(groups: int, kernel: int, stride: int, perturb) -> None:
    bn, conv = perturb(nn.BatchNorm2d(4), seed=groups), perturb(nn.Conv2d(4, 8, kernel, stride, groups=groups))
    x = torch.randn(2, 4, 7, 7)
    with torch.no_grad():
        assert float((conv(bn.eval()(x)) - fold_bn_into_conv(bn, conv)(x)).abs().max()) <= 1e-5
