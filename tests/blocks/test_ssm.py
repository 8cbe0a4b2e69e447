"""Tests of the ``ssm`` block: the chunked scans against sequential references (float64 and float32),
the decay floor, causality, gradients, the scan orders, ONNX export and onnxruntime agreement, option
checks and linear cost."""

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
from nasbench.blocks.norms import LayerNorm2d
from nasbench.blocks.registry import block_info, list_blocks
from nasbench.blocks.ssm import LOG_DECAY_MIN, MAX_CHUNK, ChannelLayerNorm, SSMBlock, linear_scan, selective_scan

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


def reference_selective_scan(
    x: torch.Tensor, log_decay: torch.Tensor, b: torch.Tensor, c: torch.Tensor, reverse: tuple[bool, ...]
) -> torch.Tensor:
    """Σ_k y_k, h_t = exp(a_t)·h_{t−1} + x_t ⊗ b_t (P×N per head), y_t = h_t·c_t, one step at a time.

    x (B, H, P, L); log_decay (K, B, H, L); b, c (K, B, H or 1, N, L); direction k runs backwards if reverse[k].
    """
    n_batch, heads, p, length = x.shape
    b, c = b.expand(-1, -1, heads, -1, -1), c.expand(-1, -1, heads, -1, -1)
    y = torch.zeros_like(x)
    for k, backwards in enumerate(reverse):
        h = x.new_zeros(n_batch, heads, p, b.shape[3])
        for t in reversed(range(length)) if backwards else range(length):
            h = log_decay[k, :, :, t, None, None].exp() * h + x[..., t, None] * b[k, :, :, None, :, t]
            y[..., t] += (h * c[k, :, :, None, :, t]).sum(-1)
    return y


def random_scan_inputs(
    length: int, seed: int, directions: int = 2, d_state: int = 2, dtype: torch.dtype = F64
) -> tuple[torch.Tensor, ...]:
    """x (2, 3, 4, L); decays from none (a = 0) to beyond the floor (a = −7); b per head, c shared by heads."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, 4, length, generator=gen, dtype=dtype)
    log_decay = -7 * torch.rand(directions, 2, 3, length, generator=gen, dtype=dtype) ** 2
    b = torch.randn(directions, 2, 3, d_state, length, generator=gen, dtype=dtype)
    c = torch.randn(directions, 2, 1, d_state, length, generator=gen, dtype=dtype)
    return x, log_decay, b, c


# (L, chunk): padded last chunk, exact multiple, L < chunk, chunk 2, several chunk levels (600 → 300 → 19 → 2).
SCAN_CASES = [(37, 8), (64, 16), (11, 16), (9, 2), (600, 2)]


@pytest.mark.parametrize(("length", "chunk"), [(37, 8), (64, 16), (50, 64), (9, 2), (200, 4)])
@pytest.mark.parametrize("reverse", [False, True])
def test_linear_scan_matches_sequential_reference(length: int, chunk: int, reverse: bool) -> None:
    gen = torch.Generator().manual_seed(length * 100 + chunk)
    # Decays of any size are exact here, no floor: mostly mild, some steps forget almost everything.
    log_decay = -3 * torch.rand(2, length, generator=gen, dtype=F64) ** 2
    log_decay = log_decay - 60 * (torch.rand(2, length, generator=gen, dtype=F64) > 0.9)
    u = torch.randn(2, length, 3, 2, generator=gen, dtype=F64)
    got = linear_scan(log_decay, u, chunk, reverse)
    want = (
        reference_linear_scan(log_decay.flip(1), u.flip(1)).flip(1) if reverse else reference_linear_scan(log_decay, u)
    )
    assert got.shape == u.shape
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("length", "chunk"), SCAN_CASES)
@pytest.mark.parametrize("reverse", [(False,), (True,), (False, True)])
def test_selective_scan_matches_sequential_reference(length: int, chunk: int, reverse: tuple[bool, ...]) -> None:
    x, log_decay, b, c = random_scan_inputs(length, seed=length * 100 + chunk, directions=len(reverse))
    got = selective_scan(x, log_decay, b, c, chunk, reverse)
    assert got.shape == x.shape
    want = reference_selective_scan(x, log_decay.clamp(min=LOG_DECAY_MIN), b, c, reverse)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


def test_selective_scan_float32_matches_float64_reference() -> None:
    x, log_decay, b, c = random_scan_inputs(300, seed=4)
    want = reference_selective_scan(x, log_decay.clamp(min=LOG_DECAY_MIN), b, c, (False, True))
    got = selective_scan(*(t.float() for t in (x, log_decay, b, c)), MAX_CHUNK, (False, True))
    assert (got.double() - want).abs().max() <= 1e-5 * want.abs().max()


def test_chunk_changes_the_computation_not_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    lengths: list[int] = []
    entering: Callable[..., torch.Tensor] = ssm._entering

    def logged(log_decay: torch.Tensor, u: torch.Tensor, chunk: int, reverse: Any) -> torch.Tensor:
        lengths.append(log_decay.shape[-1])
        return entering(log_decay, u, chunk, reverse)

    monkeypatch.setattr(ssm, "_entering", logged)
    x, log_decay, b, c = random_scan_inputs(600, seed=5)
    results = {chunk: selective_scan(x, log_decay, b, c, chunk, (False, True)) for chunk in (2, 5, 16)}
    # chunk 2: 300 chunks, whose entering states come from 19 chunks of MAX_CHUNK, then 2 (three levels).
    assert lengths[:3] == [300, 19, 2]
    for chunk in (5, 16):
        torch.testing.assert_close(results[chunk], results[2], rtol=0, atol=1e-10)


def test_decays_below_the_floor_act_as_the_floor_and_stay_finite_in_float32() -> None:
    x, log_decay, b, c = (t.float() for t in random_scan_inputs(100, seed=6))
    floor = torch.full_like(log_decay, LOG_DECAY_MIN)
    far_below = torch.full_like(log_decay, -1e4)
    both = (False, True)
    torch.testing.assert_close(
        selective_scan(x, far_below, b, c, 8, both), selective_scan(x, floor, b, c, 8, both), rtol=0, atol=0
    )
    # Large activations with every step at the floor: the chunk factors reach exp(±40) without overflow.
    inputs = [(1e3 * x).requires_grad_(), far_below.requires_grad_(), (1e3 * b).requires_grad_(), 1e3 * c]
    y = selective_scan(*inputs, MAX_CHUNK, both)
    (y * torch.randn_like(y)).sum().backward()
    assert torch.isfinite(y).all()
    for t in (inputs[0], inputs[2]):
        assert t.grad is not None and torch.isfinite(t.grad).all()
    assert inputs[1].grad is not None and (inputs[1].grad == 0).all()  # clamped: no gradient below the floor


def test_selective_scan_gradients_match_finite_differences() -> None:
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(1, 2, 2, 13, generator=gen, dtype=F64)
    log_decay = -torch.rand(2, 1, 2, 13, generator=gen, dtype=F64)  # away from the floor's kink
    b = torch.randn(2, 1, 2, 1, 13, generator=gen, dtype=F64)
    c = torch.randn(2, 1, 1, 1, 13, generator=gen, dtype=F64)
    inputs = tuple(t.requires_grad_() for t in (x, log_decay, b, c))
    # chunk 3: five chunks, the last one padded, so the chunk-level scan's gradients are checked too.
    assert torch.autograd.gradcheck(lambda *t: selective_scan(*t, 3, (False, True)), inputs, fast_mode=True)


def test_selective_scan_is_causal_in_each_direction() -> None:
    x, log_decay, b, c = random_scan_inputs(45, seed=8, directions=1)
    for reverse, changed, unaffected in (((False,), -1, slice(0, -1)), ((True,), 0, slice(1, None))):
        y = selective_scan(x, log_decay, b, c, 8, reverse)
        x2, b2, c2 = x.clone(), b.clone(), c.clone()
        x2[..., changed] += 5.0
        b2[..., changed] += 5.0
        c2[..., changed] += 5.0
        y2 = selective_scan(x2, log_decay, b2, c2, 8, reverse)
        torch.testing.assert_close(y2[..., unaffected], y[..., unaffected], rtol=0, atol=1e-12)
        assert (y2[..., changed] - y[..., changed]).abs().max() > 1e-3


def test_selective_scan_rejects_bad_chunks_and_directions() -> None:
    x, log_decay, b, c = random_scan_inputs(5, seed=9)
    for chunk in (1, MAX_CHUNK + 1):
        with pytest.raises(ValueError, match="chunk"):
            selective_scan(x, log_decay, b, c, chunk, (False, True))
    with pytest.raises(ValueError, match="reverse has 1 entries for 2 directions"):
        selective_scan(x, log_decay, b, c, 4, (False,))
    with pytest.raises(ValueError, match="chunk"):
        linear_scan(log_decay[0], x.transpose(-1, -2), 1)


def reference_mixer_scan(mixer: ssm.SelectiveScan2d, u: torch.Tensor) -> torch.Tensor:
    """The mixer's scan rebuilt from its parameters: each direction's pixel sequence scanned step by step."""
    n, d_inner, height, width = u.shape
    transposes, reverse = ssm._SCAN_ORDERS[mixer.directions]
    heads, s = mixer.heads, mixer.d_state
    params = mixer.x_proj(u.flatten(2)).unflatten(-1, (height, width))
    out = torch.zeros_like(u)
    for k in range(mixer.directions):
        transpose, backwards = transposes[k // len(reverse)], reverse[k % len(reverse)]
        p_k = params[:, k * (heads + 2 * s) : (k + 1) * (heads + 2 * s)]
        maps = [t.transpose(-1, -2) if transpose else t for t in (u, p_k)]
        seq, seq_p = (t.flatten(2) for t in maps)  # (n, ·, L) in this direction's pixel order
        dt = ssm.DT_MAX * torch.sigmoid(seq_p[:, :heads] + mixer.dt_bias[k, :, None])
        log_decay = -dt * mixer.A_log[k].exp()[:, None]
        b = dt[:, :, None] * seq_p[:, None, heads : heads + s]
        c = seq_p[:, None, heads + s :]
        y = reference_selective_scan(
            seq.unflatten(1, (heads, mixer.head_dim)), log_decay[None], b[None], c[None], (backwards,)
        ).flatten(1, 2)
        out = out + (y.unflatten(-1, (width, height)).transpose(-1, -2) if transpose else y.view_as(u))
    return out


@pytest.mark.parametrize(("directions", "d_state"), [(1, 1), (2, 2), (4, 1)])
def test_mixer_scan_orders_match_a_per_direction_reference(directions: int, d_state: int) -> None:
    torch.manual_seed(directions)
    mixer = SSMBlock(8, d_state=d_state, head_dim=4, directions=directions, chunk=4).mixer.double()
    u = torch.randn(2, 8, 5, 7, dtype=F64)  # L = 35: padded chunks, and rows ≠ columns
    with torch.no_grad():
        torch.testing.assert_close(mixer.scan(u), reference_mixer_scan(mixer, u), rtol=0, atol=1e-10)


def test_one_direction_mixer_scan_is_causal_in_row_major_order() -> None:
    torch.manual_seed(0)
    mixer = SSMBlock(8, head_dim=8, directions=1, chunk=4).mixer.double()
    u = torch.randn(1, 8, 5, 7, dtype=F64)
    t0 = 3 * 7 + 2  # pixel (3, 2): the scan's 24th step
    u2 = u.clone()
    u2[..., 3, 2] += 3.0
    with torch.no_grad():
        y, y2 = mixer.scan(u).flatten(-2), mixer.scan(u2).flatten(-2)
    torch.testing.assert_close(y2[..., :t0], y[..., :t0], rtol=0, atol=1e-12)
    assert (y2[..., t0:] - y[..., t0:]).abs().amax(dim=1).min() > 0  # every later pixel sees the change


@pytest.mark.parametrize("side", [8, 9])  # 64 pixels: channels-last path; 81: matmul path
def test_channel_layer_norm_equals_layer_norm_2d(side: int) -> None:
    torch.manual_seed(side)
    fast, plain = ChannelLayerNorm(12), LayerNorm2d(12)
    with torch.no_grad():
        for p_fast, p_plain in zip(fast.parameters(), plain.parameters(), strict=True):
            p_plain.copy_(p_fast.normal_())
    x = 3 * torch.randn(2, 12, side, side) + 1
    torch.testing.assert_close(fast(x), plain(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("directions", [1, 2, 4])
@pytest.mark.parametrize(("ffn_expansion", "gate"), [(1.5, False), (0.0, True)])
def test_block_shape_and_gradients(directions: int, ffn_expansion: float, gate: bool) -> None:
    torch.manual_seed(directions)
    block = SSMBlock(16, d_state=2, directions=directions, chunk=16, ffn_expansion=ffn_expansion, gate=gate)
    x = torch.randn(2, 16, 10, 7)  # L = 70: five chunks, the last one padded
    y = block(x)
    assert y.shape == x.shape
    (y * torch.randn_like(y)).sum().backward()
    assert (block.ffn is None) == (ffn_expansion == 0)
    assert block.mixer.in_proj.out_channels == (2 if gate else 1) * 16
    for name, param in block.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().max() > 0, name


@pytest.mark.parametrize("channels", [16, 32, 48, 64, 96, 128, 192, 384])
def test_defaults_fit_the_restormer_space_widths(channels: int) -> None:
    block = SSMBlock(channels)
    assert block.mixer.heads * block.mixer.head_dim == channels  # expand 1, head_dim 16


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


@pytest.mark.parametrize(
    ("channels", "options", "shape"),
    [
        (16, {}, (16, 12)),  # 48 chunks of 4: the chunk-level scan has two levels (48 → 3)
        # Two heads and two directions per pixel order: shapes an exporter rewrite once mistook for a
        # broadcast; four directions, the gate, and 64 pixels, where the norms run channels-last.
        (32, {"directions": 4, "gate": True}, (8, 8)),
    ],
)
def test_onnx_export_matches_pytorch(
    tmp_path: Path, channels: int, options: dict[str, Any], shape: tuple[int, int]
) -> None:
    torch.manual_seed(0)
    block = SSMBlock(channels, chunk=4, **options).eval()
    with torch.no_grad():
        for param in block.parameters():  # away from the init's symmetries (unit norms, D = 1)
            param.add_(0.05 * torch.randn_like(param))
    x = torch.randn(1, channels, *shape)
    path = tmp_path / "ssm.onnx"
    torch.onnx.export(block, (x,), str(path), dynamo=True, opset_version=18, external_data=False)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    ops = onnx_op_types(model)
    print("ONNX op types:", dict(sorted(ops.items())))
    assert not {"Loop", "Scan", "If", "CumSum", "Softplus"} & set(ops)
    assert {"MatMul", "Exp", "Sigmoid", "Where"} <= set(ops)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        want = block(x).numpy()
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"channels": 24}, "head_dim"),  # d_inner = 24 is not a multiple of the default head_dim 16
        ({"head_dim": 0}, "head_dim"),
        ({"directions": 3}, "directions"),
        ({"chunk": 1}, "chunk"),
        ({"chunk": 32}, "chunk"),
        ({"d_state": 0}, "d_state"),
        ({"expand": 0.01}, "expand"),
        ({"ffn_expansion": -1.0}, "ffn_expansion"),
    ],
)
def test_invalid_options_raise(options: dict[str, Any], named: str) -> None:
    kwargs = {"channels": 16, **options}
    with pytest.raises(ValueError, match=named):
        SSMBlock(**kwargs)


def test_cost_is_linear_in_pixels() -> None:
    block = SSMBlock(16).eval()

    def flops(side: int) -> int:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            block(torch.randn(1, 16, side, side))
        return counter.get_total_flops()

    ratio = flops(128) / flops(64)  # L = 16384 vs 4096: 4× linear, 16× quadratic
    assert 3.5 < ratio < 4.6
