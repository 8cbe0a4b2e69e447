"""The ``ssm`` block: a Mamba-style selective state-space block in pure PyTorch.

Restormer's TransformerBlock skeleton with the attention replaced by a 2-D selective scan (as in
MambaIR's SS2D): ``x + mixer(LN(x))``, then ``x + GDFN(LN(x))``. The ENS paper does not publish its SSM
block, so the layers below are our choice; see ``docs/ssm-block.md``.

The scan is Mamba-2's chunked "SSD" form with a scalar decay per head. It uses only cumsum, exp, where,
matmul and reshapes — no CUDA kernel, no in-place parallel scan (which exports to ONNX silently wrong),
no ``Loop``/``Scan`` op — and its cost is linear in the sequence length H·W: within a chunk of Q steps the
recurrence is a masked Q×Q matrix, and the recurrence between chunks is solved by the same chunked
routine again (:func:`linear_scan`), so every level costs O(L·Q) and there are about log_Q(L) levels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from nasbench.blocks.norms import LayerNorm2d
from nasbench.blocks.registry import register_block
from nasbench.blocks.restormer import GDFN

# (transpose, reverse) per scan: row-major, column-major and their reverses, in MambaIR's order.
_SCAN_ORDERS: dict[int, tuple[tuple[bool, bool], ...]] = {
    1: ((False, False),),
    2: ((False, False), (False, True)),
    4: ((False, False), (True, False), (False, True), (True, True)),
}


def _pad_seq(x: torch.Tensor, dim: int, pad: int) -> torch.Tensor:
    """Zero-pad ``x`` at the end of ``dim``; zeros (x = 0, log-decay = 0) leave earlier outputs unchanged."""
    if pad == 0:
        return x
    shape = list(x.shape)
    shape[dim] = pad
    return torch.cat([x, x.new_zeros(shape)], dim=dim)


def _shift_right(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Drop the last entry of ``dim`` and put a zero in front: the state *entering* each chunk."""
    head = torch.zeros_like(x.narrow(dim, 0, 1))
    return torch.cat([head, x.narrow(dim, 0, x.shape[dim] - 1)], dim=dim)


def _decay_matrix(cs: torch.Tensor) -> torch.Tensor:
    """exp(segsum): M[..., i, j] = exp(cs_i − cs_j) for j ≤ i, else 0, from the cumulative log-decay ``cs``.

    The mask is applied before exp so the (positive, possibly huge) upper triangle is never exponentiated:
    no overflow, and no inf·0 = NaN in the forward or the backward pass.
    """
    q = cs.shape[-1]
    causal = torch.ones(q, q, dtype=torch.bool, device=cs.device).tril()
    seg = cs.unsqueeze(-1) - cs.unsqueeze(-2)
    return torch.where(causal, seg, -math.inf).exp()


def linear_scan(log_decay: torch.Tensor, u: torch.Tensor, chunk: int) -> torch.Tensor:
    """All states of h_t = exp(log_decay_t)·h_{t−1} + u_t, h_{−1} = 0, in chunks of ``chunk`` steps.

    ``log_decay`` is (*batch, L) with values ≤ 0; ``u`` is (*batch, L, *features). Returns u's shape.
    Within a chunk the scan is one masked matmul; the scan over chunk-final states is this same function
    on a sequence ``chunk`` times shorter, so the cost is O(L·chunk) per level and linear in L overall.
    ``chunk`` must be ≥ 2, else the chunk-level sequence would be no shorter and the recursion not end.
    """
    if chunk < 2:
        raise ValueError(f"chunk must be ≥ 2, got {chunk}")
    length = log_decay.shape[-1]
    features = u.shape[log_decay.dim() :]
    u = u.reshape(*log_decay.shape, -1)
    if length <= chunk:
        h = _decay_matrix(log_decay.cumsum(-1)) @ u
        return h.reshape(*log_decay.shape, *features)
    n_chunks = -(-length // chunk)
    pad = n_chunks * chunk - length
    cs = _pad_seq(log_decay, -1, pad).unflatten(-1, (n_chunks, chunk)).cumsum(-1)
    uc = _pad_seq(u, -2, pad).unflatten(-2, (n_chunks, chunk))
    h_local = _decay_matrix(cs) @ uc
    carried = linear_scan(cs[..., -1], h_local[..., -1, :], chunk)
    h = h_local + cs.exp().unsqueeze(-1) * _shift_right(carried, -2).unsqueeze(-2)
    return h.flatten(-3, -2)[..., :length, :].reshape(*log_decay.shape, *features)


def ssd_scan(x: torch.Tensor, log_decay: torch.Tensor, b: torch.Tensor, c: torch.Tensor, chunk: int) -> torch.Tensor:
    """Mamba-2 SSD scan: h_t = exp(a_t)·h_{t−1} + x_t ⊗ b_t, y_t = h_t·c_t, one scalar decay per head.

    Shapes: ``x`` (G, H, L, P) — already multiplied by dt —, ``log_decay`` a = dt·A (G, H, L) with a ≤ 0,
    ``b`` and ``c`` (G, L, N) shared by the H heads. Returns y (G, H, L, P). The P×N state is only formed
    at chunk ends (G, H, L/chunk, N, P), never per time step.
    """
    length = x.shape[-2]
    q = min(chunk, length)
    n_chunks = -(-length // q)
    pad = n_chunks * q - length
    # One copy up front: both matmuls below would otherwise each copy a transposed x.
    xc = _pad_seq(x, -2, pad).unflatten(-2, (n_chunks, q)).contiguous()
    cs = _pad_seq(log_decay, -1, pad).unflatten(-1, (n_chunks, q)).cumsum(-1)
    bc = _pad_seq(b, -2, pad).unflatten(-2, (n_chunks, q)).unsqueeze(1)
    cc = _pad_seq(c, -2, pad).unflatten(-2, (n_chunks, q)).unsqueeze(1)
    y_diag = (_decay_matrix(cs) * (cc @ bc.transpose(-1, -2))) @ xc
    to_end = (cs[..., -1:] - cs).exp().unsqueeze(-1)
    states = (bc * to_end).transpose(-1, -2) @ xc
    carried = linear_scan(cs[..., -1], states, chunk)
    y_off = (cc @ _shift_right(carried, -3)) * cs.exp().unsqueeze(-1)
    return (y_diag + y_off).flatten(-3, -2)[..., :length, :]


def _to_seq(t: torch.Tensor, transpose: bool, reverse: bool) -> torch.Tensor:
    """(n, c, h, w) → (n, c, h·w) in the given scan order."""
    if transpose:
        t = t.transpose(-1, -2)
    t = t.flatten(-2)
    return t.flip(-1) if reverse else t


def _from_seq(s: torch.Tensor, transpose: bool, reverse: bool, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`_to_seq`: (n, c, h·w) in scan order → (n, c, h, w)."""
    if reverse:
        s = s.flip(-1)
    if transpose:
        return s.unflatten(-1, (width, height)).transpose(-1, -2)
    return s.unflatten(-1, (height, width))


class SelectiveScan2d(nn.Module):
    """2-D selective-scan mixer (SS2D-like), every per-pixel projection a 1×1 conv on N×C×H×W.

    in_proj → (x, z); x → depthwise 3×3 → SiLU; per scan order k: x_proj gives dt, B, C per pixel, the SSD
    scan runs along that order, and the results are un-permuted and summed; + D·x; LayerNorm; ⊙ SiLU(z);
    out_proj. D is one per channel shared by the directions: a per-direction D_k would only enter as
    Σ_k D_k, so it adds parameters but no expressiveness.
    """

    def __init__(
        self,
        channels: int,
        d_state: int,
        expand: float,
        head_dim: int,
        directions: int,
        chunk: int,
        bias: bool,
    ) -> None:
        super().__init__()
        d_inner = int(expand * channels)
        if d_state < 1:
            raise ValueError(f"d_state must be ≥ 1, got {d_state}")
        if d_inner < 1:
            raise ValueError(f"expand={expand} gives d_inner = int(expand·channels) = {d_inner}; need ≥ 1")
        if head_dim < 1 or d_inner % head_dim:
            fits = [d for d in range(1, d_inner + 1) if d_inner % d == 0]
            raise ValueError(
                f"head_dim={head_dim} must divide d_inner = int(expand·channels) = {d_inner} "
                f"(expand={expand}, channels={channels}); head_dim could be one of {fits}"
            )
        if directions not in _SCAN_ORDERS:
            raise ValueError(f"directions must be one of {sorted(_SCAN_ORDERS)}, got {directions!r}")
        if chunk < 2:
            raise ValueError(f"chunk must be ≥ 2, got {chunk}")
        self.d_state = d_state
        self.heads = d_inner // head_dim
        self.head_dim = head_dim
        self.directions = directions
        self.chunk = chunk
        self.in_proj = nn.Conv2d(channels, 2 * d_inner, 1, bias=bias)
        self.conv = nn.Conv2d(d_inner, d_inner, 3, padding=1, groups=d_inner, bias=True)
        self.x_proj = nn.Conv2d(d_inner, directions * (self.heads + 2 * d_state), 1, bias=False)
        # Mamba's init: step sizes log-uniform in [1e-3, 0.1] (stored through the inverse softplus) and
        # decay rates A in [1, 16], so heads start out covering short and long memories.
        dt = torch.exp(torch.empty(directions, self.heads).uniform_(math.log(1e-3), math.log(0.1))).clamp(min=1e-4)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.empty(directions, self.heads).uniform_(1.0, 16.0).log())
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_norm = LayerNorm2d(d_inner)
        self.out_proj = nn.Conv2d(d_inner, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, z = self.in_proj(x).chunk(2, dim=1)
        u = F.silu(self.conv(u))
        y = self.scan(u) + self.D.view(1, -1, 1, 1) * u
        return self.out_proj(self.out_norm(y) * F.silu(z))

    def scan(self, u: torch.Tensor) -> torch.Tensor:
        """Sum over the scan orders of the un-permuted SSD scan of ``u`` (n, d_inner, h, w), without D·u."""
        n, d_inner, height, width = u.shape
        orders = _SCAN_ORDERS[self.directions]
        k, heads, p, s = self.directions, self.heads, self.head_dim, self.d_state
        # x_proj is per pixel, so projecting before permuting equals projecting each permuted sequence.
        params = self.x_proj(u).unflatten(1, (k, heads + 2 * s))
        seq_u = torch.stack([_to_seq(u, *o) for o in orders], dim=1)
        seq_p = torch.stack([_to_seq(params[:, i], *o) for i, o in enumerate(orders)], dim=1)
        dt_raw, b, c = seq_p.split([heads, s, s], dim=2)
        dt = F.softplus(dt_raw + self.dt_bias.view(1, k, heads, 1))
        log_decay = dt * -self.A_log.exp().view(1, k, heads, 1)
        xs = seq_u.unflatten(2, (heads, p)) * dt.unsqueeze(3)
        y = ssd_scan(
            xs.flatten(0, 1).transpose(-1, -2),
            log_decay.flatten(0, 1),
            b.flatten(0, 1).transpose(-1, -2),
            c.flatten(0, 1).transpose(-1, -2),
            self.chunk,
        )
        y = y.transpose(-1, -2).reshape(n, k, d_inner, height * width)
        out = _from_seq(y[:, 0], *orders[0], height, width)
        for i in range(1, k):
            out = out + _from_seq(y[:, i], *orders[i], height, width)
        return out


@register_block("ssm", tags=("ssm",))
class SSMBlock(nn.Module):
    """Selective state-space block: x + SS2D-like scan mixer(LN(x)), then x + GDFN(LN(x)).

    A surrogate for Restormer's TransformerBlock with a Mamba-2 style scan (cost linear in H·W) instead of
    the attention. d_inner = int(expand·channels) must be a multiple of ``head_dim`` (heads =
    d_inner // head_dim); ``directions`` ∈ {1, 2, 4} scan orders; ``chunk`` ≥ 2 steps per scan chunk;
    ``ffn_expansion`` 0 drops the feed-forward half; ``bias`` applies to the 1×1 projections.
    """

    def __init__(
        self,
        channels: int,
        d_state: int = 16,
        expand: float = 2.0,
        head_dim: int = 32,
        directions: int = 4,
        chunk: int = 64,
        ffn_expansion: float = 2.66,
        bias: bool = False,
    ) -> None:
        super().__init__()
        if ffn_expansion < 0:
            raise ValueError(f"ffn_expansion must be ≥ 0 (0 drops the feed-forward half), got {ffn_expansion}")
        self.norm1 = LayerNorm2d(channels)
        self.mixer = SelectiveScan2d(channels, d_state, expand, head_dim, directions, chunk, bias)
        self.norm2: LayerNorm2d | None = None
        self.ffn: GDFN | None = None
        if ffn_expansion > 0:
            self.norm2 = LayerNorm2d(channels)
            self.ffn = GDFN(channels, ffn_expansion, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(self.norm1(x))
        if self.ffn is None or self.norm2 is None:
            return x
        return x + self.ffn(self.norm2(x))
