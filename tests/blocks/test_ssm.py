"""Tests of the ``ssm`` block: the chunked scans against a sequential reference, causality, shapes and
gradients, ONNX export and onnxruntime agreement, option checks and linear cost."""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from nasbench.blocks import ssm
from nasbench.blocks.registry import block_info, list_blocks
from nasbench.blocks.ssm import SSMBlock, linear_scan, ssd_scan

F64 = torch.float64


def reference_linear_scan(log_decay: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """h_t = exp(a_t)·h_{t−1} + u_t one step at a time; log_decay (B, L), u (B, L, *features)."""
    h = torch.zeros_like(u[:, 0])
    out = []
    for t in range(u.shape[1]):
        decay = log_decay[:, t].exp().reshape(-1, *([1] * (u.dim() - 2)))
        h = decay * h + u[:, t]
        out.append(h)
    return torch.stack(out, dim=1)


def reference_ssd_scan(x: torch.Tensor, log_decay: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """h_t = exp(a_t)·h_{t−1} + x_t ⊗ b_t, y_t = h_t·c_t one step at a time; x (G, H, L, P), b, c (G, L, N)."""
    g, heads, length, p = x.shape
    h = x.new_zeros(g, heads, p, b.shape[-1])
    out = []
    for t in range(length):
        h = log_decay[:, :, t, None, None].exp() * h + x[:, :, t, :, None] * b[:, None, t, None, :]
        out.append((h * c[:, None, t, None, :]).sum(-1))
    return torch.stack(out, dim=2)


def random_scan_inputs(length: int, seed: int) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, length, 4, generator=gen, dtype=F64)
    # Decays from none (a = 0) to strong (a = −3 per step) so long and short memories are both checked.
    log_decay = -3 * torch.rand(2, 3, length, generator=gen, dtype=F64) ** 2
    b = torch.randn(2, length, 5, generator=gen, dtype=F64)
    c = torch.randn(2, length, 5, generator=gen, dtype=F64)
    return x, log_decay, b, c


def record_recursion(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Wrap ``ssm.linear_scan`` (which recurses through its module-level name) to log each call's length."""
    lengths: list[int] = []
    inner: Callable[..., torch.Tensor] = ssm.linear_scan

    def logged(log_decay: torch.Tensor, u: torch.Tensor, chunk: int) -> torch.Tensor:
        lengths.append(log_decay.shape[-1])
        return inner(log_decay, u, chunk)

    monkeypatch.setattr(ssm, "linear_scan", logged)
    return lengths


# (L, chunk): padded last chunk, exact multiple, L < chunk, chunk 2, and three levels of chunks (200 → 50 → 13 → 4).
SCAN_CASES = [(37, 8), (64, 16), (50, 64), (9, 2), (200, 4)]


@pytest.mark.parametrize(("length", "chunk"), SCAN_CASES)
def test_linear_scan_matches_sequential_reference(length: int, chunk: int) -> None:
    gen = torch.Generator().manual_seed(length * 100 + chunk)
    log_decay = -3 * torch.rand(2, length, generator=gen, dtype=F64) ** 2
    u = torch.randn(2, length, 3, 2, generator=gen, dtype=F64)
    got = linear_scan(log_decay, u, chunk)
    assert got.shape == u.shape
    torch.testing.assert_close(got, reference_linear_scan(log_decay, u), rtol=0, atol=1e-10)


@pytest.mark.parametrize(("length", "chunk"), SCAN_CASES)
def test_ssd_scan_matches_sequential_reference(length: int, chunk: int) -> None:
    x, log_decay, b, c = random_scan_inputs(length, seed=length * 100 + chunk)
    got = ssd_scan(x, log_decay, b, c, chunk)
    assert got.shape == x.shape
    torch.testing.assert_close(got, reference_ssd_scan(x, log_decay, b, c), rtol=0, atol=1e-10)


def test_chunk_recurrence_recurses(monkeypatch: pytest.MonkeyPatch) -> None:
    lengths = record_recursion(monkeypatch)
    x, log_decay, b, c = random_scan_inputs(200, seed=1)
    got = ssd_scan(x, log_decay, b, c, 4)
    assert lengths == [50, 13, 4]  # chunk-level scan, then two more levels before one chunk suffices
    torch.testing.assert_close(got, reference_ssd_scan(x, log_decay, b, c), rtol=0, atol=1e-10)


def test_ssd_scan_is_causal() -> None:
    x, log_decay, b, c = random_scan_inputs(45, seed=2)
    y = ssd_scan(x, log_decay, b, c, 8)
    x2, a2, b2, c2 = x.clone(), log_decay.clone(), b.clone(), c.clone()
    x2[:, :, -1] += 5.0
    a2[:, :, -1] -= 1.0
    b2[:, -1] += 5.0
    c2[:, -1] += 5.0
    y2 = ssd_scan(x2, a2, b2, c2, 8)
    torch.testing.assert_close(y2[:, :, :-1], y[:, :, :-1], rtol=0, atol=1e-12)
    assert (y2[:, :, -1] - y[:, :, -1]).abs().max() > 1e-3


def test_one_direction_mixer_scan_is_causal_in_row_major_order() -> None:
    torch.manual_seed(0)
    mixer = SSMBlock(8, head_dim=8, directions=1, chunk=4).mixer.double()
    u = torch.randn(1, 16, 5, 7, dtype=F64)
    t0 = 3 * 7 + 2  # pixel (3, 2): the scan's 24th step
    u2 = u.clone()
    u2[..., 3, 2] += 3.0
    with torch.no_grad():
        y, y2 = mixer.scan(u).flatten(-2), mixer.scan(u2).flatten(-2)
    torch.testing.assert_close(y2[..., :t0], y[..., :t0], rtol=0, atol=1e-12)
    assert (y2[..., t0:] - y[..., t0:]).abs().amax(dim=1).min() > 0  # every later pixel sees the change


@pytest.mark.parametrize("directions", [1, 2, 4])
def test_scan_orders_round_trip(directions: int) -> None:
    t = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    for order in ssm._SCAN_ORDERS[directions]:
        torch.testing.assert_close(ssm._from_seq(ssm._to_seq(t, *order), *order, 4, 5), t, rtol=0, atol=0)


@pytest.mark.parametrize("directions", [1, 2, 4])
@pytest.mark.parametrize("ffn_expansion", [2.66, 0.0])
def test_block_shape_and_gradients(directions: int, ffn_expansion: float) -> None:
    torch.manual_seed(directions)
    block = SSMBlock(16, d_state=8, head_dim=16, directions=directions, chunk=16, ffn_expansion=ffn_expansion)
    x = torch.randn(2, 16, 10, 7)  # L = 70: five chunks, the last one padded
    y = block(x)
    assert y.shape == x.shape
    (y * torch.randn_like(y)).sum().backward()
    assert (block.ffn is None) == (ffn_expansion == 0)
    for name, param in block.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().max() > 0, name


def test_block_is_registered() -> None:
    assert "ssm" in list_blocks(tag="ssm")
    assert block_info("ssm").cls is SSMBlock


def onnx_op_types(model: onnx.ModelProto) -> collections.Counter[str]:
    graphs = [model.graph, *(f for f in model.functions)]
    counts: collections.Counter[str] = collections.Counter()
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            counts[node.op_type] += 1
            graphs.extend(attr.g for attr in node.attribute if attr.HasField("g"))
    return counts


def test_onnx_export_matches_pytorch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    # L = 16·12 = 192 in chunks of 8 gives 24 chunks, more than 8, so the chunk-level scan recurses once.
    block = SSMBlock(16, head_dim=16, chunk=8).eval()
    x = torch.randn(1, 16, 16, 12)
    path = tmp_path / "ssm.onnx"
    torch.onnx.export(block, (x,), str(path), dynamo=True, opset_version=18, external_data=False)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    ops = onnx_op_types(model)
    print("ONNX op types:", dict(sorted(ops.items())))
    assert not {"Loop", "Scan", "If"} & set(ops)
    assert {"CumSum", "MatMul", "Exp", "Where"} <= set(ops)
    assert ops["CumSum"] >= 3  # one per level: SSD chunks, chunk-level scan, its one-chunk base case
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        want = block(x).numpy()
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"channels": 24}, "head_dim"),  # d_inner = 48 is not a multiple of the default head_dim 32
        ({"head_dim": 0}, "head_dim"),
        ({"directions": 3}, "directions"),
        ({"chunk": 1}, "chunk"),
        ({"d_state": 0}, "d_state"),
        ({"expand": 0.01}, "expand"),
        ({"ffn_expansion": -1.0}, "ffn_expansion"),
    ],
)
def test_invalid_options_raise(options: dict[str, Any], named: str) -> None:
    kwargs = {"channels": 16, **options}
    with pytest.raises(ValueError, match=named):
        SSMBlock(**kwargs)


def test_scans_reject_chunk_below_two() -> None:
    x, log_decay, b, c = random_scan_inputs(5, seed=3)
    with pytest.raises(ValueError, match="chunk"):
        linear_scan(log_decay, x, 1)
    with pytest.raises(ValueError, match="chunk"):
        ssd_scan(x, log_decay, b, c, 1)


def test_cost_is_linear_in_pixels() -> None:
    block = SSMBlock(16, chunk=64).eval()

    def flops(side: int) -> int:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            block(torch.randn(1, 16, side, side))
        return counter.get_total_flops()

    ratio = flops(64) / flops(32)  # L = 4096 vs 1024: 4× linear, 16× quadratic
    assert 3.5 < ratio < 4.6
