"""The ``ssm`` block: a Mamba-style selective state-space block in pure PyTorch, built to be fast in onnxruntime.

Restormer's TransformerBlock skeleton with the attention replaced by a 2-D selective scan (as in MambaIR's
SS2D): ``x + mixer(LN(x))``, then ``x + GDFN(LN(x))`` with a narrower GDFN. The ENS paper does not publish
its SSM block, so the layers below are our choice; see ``docs/ssm-block.md``.

The scan is a selective linear recurrence with a scalar, input-dependent decay per head (Mamba-2's form),
computed in chunks of at most :data:`MAX_CHUNK` steps. Inside a chunk the decays are factored out of the
sum (``exp(cs_i − cs_j) = exp(cs_i − m)·exp(m − cs_j)``), which turns the masked decay matrix into one
*constant* triangular matrix: the whole intra-chunk recurrence is a single large matmul. The factors stay
within exp(±40) because each step's log-decay is floored at :data:`LOG_DECAY_MIN`. The recurrence between
chunks is solved exactly, with masked exp(segsum) matmuls applied recursively (as in :func:`linear_scan`).
Only matmul, exp, sigmoid, where, reshapes and element-wise arithmetic are used — no CUDA kernel, no
``Loop``/``Scan`` op, no in-place parallel scan — and the cost is linear in the sequence length H·W.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nasbench.blocks.norms import LayerNorm2d
from nasbench.blocks.registry import register_block
from nasbench.blocks.restormer import GDFN

#: Floor on each step's log-decay a = dt·A: the state keeps at least exp(−5) ≈ 0.7 % of itself per step.
LOG_DECAY_MIN = -5.0
#: Longest scan chunk. Inside a chunk the factors exp(±(cs − m)) reach at most exp(MAX_CHUNK·|LOG_DECAY_MIN|/2)
#: = exp(40) ≈ 2e17, far from float32's limit (3e38) even after multiplying activations and summing.
MAX_CHUNK = 16
#: Upper bound of the step size: dt = DT_MAX·sigmoid(·).
DT_MAX = 1.0

# Scan orders per option value: pixel orders (False row-major, True column-major) × scan directions (False
# forwards, True backwards). Direction k = order index · (directions per order) + direction index.
_SCAN_ORDERS: dict[int, tuple[tuple[bool, ...], tuple[bool, ...]]] = {
    1: ((False,), (False,)),
    2: ((False,), (False, True)),
    4: ((False, True), (False, True)),
}


def _check_chunk(chunk: int) -> None:
    if not 2 <= chunk <= MAX_CHUNK:
        raise ValueError(f"chunk must be between 2 and {MAX_CHUNK} (MAX_CHUNK), got {chunk}")


def _pad_seq(x: torch.Tensor, dim: int, pad: int) -> torch.Tensor:
    """Zero-pad ``x`` at the end of ``dim``; zeros (x = 0, log-decay = 0) leave the real outputs unchanged."""
    if pad == 0:
        return x
    shape = list(x.shape)
    shape[dim] = pad
    return torch.cat([x, x.new_zeros(shape)], dim=dim)


def _batched_matmul(t: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """t (K, *batch, M, Q) @ matrices (K, Q, R), broadcasting ``matrices`` over the batch axes.

    Deliberately not one (K, prod(batch)·M, Q) matmul between two reshapes: the rewrite that torch's ONNX
    exporter applies to Reshape → MatMul → Reshape (onnxscript 0.7) drops the reshapes whenever the shapes
    happen to broadcast — e.g. with as many heads as directions — and then pairs each matrix with the wrong
    axis: a graph that runs and is wrong. The large matmul of :func:`selective_scan` is kept safe otherwise.
    """
    return t @ matrices.view(matrices.shape[0], *([1] * (t.dim() - 3)), *matrices.shape[1:])


def _prefix_matrices(reverse: Sequence[bool], q: int, strict: bool, like: torch.Tensor) -> torch.Tensor:
    """(K, Q, Q): t @ M[k] sums t over the steps up to (forwards) or from (backwards, ``reverse[k]``) each
    step of a chunk, excluding the step itself if ``strict``."""
    ones = torch.ones(q, q, dtype=like.dtype, device=like.device)
    return torch.stack([ones.tril(-int(strict)) if r else ones.triu(int(strict)) for r in reverse])


def _entering(log_decay: torch.Tensor, u: torch.Tensor, chunk: int, reverse: Sequence[bool]) -> torch.Tensor:
    """The states *entering* each step, E_t = h_{t−1}, of h_t = exp(a_t)·h_{t−1} + u_t per direction.

    ``log_decay`` (K, *batch, L) ≤ 0, any magnitude; ``u`` (K, *batch, L, F); direction k runs backwards if
    ``reverse[k]``. Inside a chunk, E = (masked exp(segsum)) @ u, the mask applied before exp so nothing
    overflows; the states entering the chunks are this same function on the chunks' exit states, a sequence
    ``chunk`` times shorter, so the cost is O(L·chunk) per level and linear in L overall.
    """
    length = log_decay.shape[-1]
    q = min(chunk, length)
    n_chunks = -(-length // q)
    pad = n_chunks * q - length
    a = _pad_seq(log_decay, -1, pad).unflatten(-1, (n_chunks, q))  # (K, *batch, n_chunks, Q)
    uc = _pad_seq(u, -2, pad).unflatten(-2, (n_chunks, q))  # (K, *batch, n_chunks, Q, F)
    inclusive = _batched_matmul(a, _prefix_matrices(reverse, q, False, a))  # cs_t, in scan direction
    exclusive = inclusive - a
    before = _prefix_matrices(reverse, q, True, a).transpose(-1, -2) > 0  # [k, i, j]: j scans before i
    before = before.view(len(reverse), *([1] * (a.dim() - 2)), q, q)
    segsum = exclusive.unsqueeze(-1) - inclusive.unsqueeze(-2)  # Σ a over the steps strictly between j and i
    e = torch.where(before, segsum, -math.inf).exp() @ uc
    if n_chunks > 1:
        total = a.sum(-1)
        exits = ((total.unsqueeze(-1) - inclusive).exp().unsqueeze(-2) @ uc).squeeze(-2)  # states leaving chunks
        e = e + exclusive.exp().unsqueeze(-1) * _entering(total, exits, chunk, reverse).unsqueeze(-2)
    return e.flatten(-3, -2)[..., :length, :]


def linear_scan(log_decay: torch.Tensor, u: torch.Tensor, chunk: int, reverse: bool = False) -> torch.Tensor:
    """All states of h_t = exp(log_decay_t)·h_{t−1} + u_t, h = 0 before the first step, in chunks.

    ``log_decay`` is (*batch, L) with values ≤ 0 of any magnitude; ``u`` is (*batch, L, *features); returns
    u's shape. With ``reverse`` the recurrence runs from t = L−1 down to 0. Exact (no decay floor); cost
    O(L·chunk), linear in L; ``chunk`` ≥ 2.
    """
    if chunk < 2:
        raise ValueError(f"chunk must be ≥ 2, got {chunk}")
    flat = u.reshape(*log_decay.shape, -1)
    entering = _entering(log_decay.unsqueeze(0), flat.unsqueeze(0), chunk, (reverse,)).squeeze(0)
    return (log_decay.exp().unsqueeze(-1) * entering + flat).reshape(u.shape)


def selective_scan(
    x: torch.Tensor,
    log_decay: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    chunk: int = MAX_CHUNK,
    reverse: Sequence[bool] = (False,),
) -> torch.Tensor:
    """Sum over K scan directions of y_t = h_t·c_t, h_t = exp(a_t)·h_{t−1} + x_t ⊗ b_t, h = 0 before the start.

    Shapes: ``x`` (B, H, P, L) — H heads of P channels, shared by the directions —; ``log_decay`` a
    (K, B, H, L), one scalar per direction, head and step; ``b`` and ``c`` (K, B, H, N, L), or with H = 1
    to share them over the heads (the N-wide state per channel). Direction k scans forwards (t = 0 … L−1)
    or, if ``reverse[k]``, backwards. The state is P×N per head and never formed per step. Returns
    (B, H, P, L).

    ``log_decay`` must be ≤ 0 and is clamped to ≥ :data:`LOG_DECAY_MIN`. ``chunk`` (2 … MAX_CHUNK) only
    changes how the result is computed, not the result.
    """
    _check_chunk(chunk)
    k = len(reverse)
    if k != log_decay.shape[0]:
        raise ValueError(f"reverse has {k} entries for {log_decay.shape[0]} directions")
    length = x.shape[-1]
    q = min(chunk, length)
    n_chunks = -(-length // q)
    pad = n_chunks * q - length
    # Directions outermost, (K, B, H, N, P, L): every matmul below is one large matmul per direction.
    x, log_decay, b, c = (_pad_seq(t, -1, pad) for t in (x, log_decay, b, c))
    a = log_decay.clamp(min=LOG_DECAY_MIN).unflatten(-1, (n_chunks, q))  # (K, B, H, n_chunks, Q)
    prefix = _prefix_matrices(reverse, q, False, a)
    total = a.sum(-1, keepdim=True)
    # cs − m: the cumulative log-decay (in scan direction) relative to the chunk's midpoint m = total/2,
    # so |cs − m| ≤ Q·|LOG_DECAY_MIN|/2 and both exp(cs − m) and exp(m − cs) are safe in float32.
    rel = (_batched_matmul(a, prefix) - 0.5 * total).flatten(-2).unsqueeze(3)  # (K, B, H, 1, L)
    v = x.unsqueeze(2) * (b * (-rel).exp()).unsqueeze(-2)  # (K, B, H, N, P, L)
    v = v.unflatten(-1, (n_chunks, q))
    if n_chunks > 1:
        half = (0.5 * total).exp()  # (K, B, H, n_chunks, 1): exp(m), chunk start → midpoint → end
        final = v.sum(-1).flatten(3, 4).transpose(-1, -2) * half  # chunk exit states (K, B, H, n_chunks, N·P)
        entering = _entering(total.squeeze(-1), final, MAX_CHUNK, reverse) * half
        entering = entering.transpose(-1, -2).unflatten(3, v.shape[3:5]).unsqueeze(-1)
        # The entering state joins the matmul as an extra first step that every step of the chunk sees. The
        # operands are flattened before the concatenation, so the matmul is one large (K, M, Q+1) @ (K, Q+1, Q)
        # product that no exporter rewrite can mistake for a broadcast (see _batched_matmul).
        v_aug = torch.cat([entering.flatten(1, -2), v.flatten(1, -2)], dim=-1)
        prefix = torch.cat([torch.ones_like(prefix[:, :1]), prefix], dim=1)
        h = (v_aug @ prefix).view(v.shape)
    else:
        h = _batched_matmul(v, prefix)
    h = h.flatten(-2)  # (K, B, H, N, P, L): the states, scaled by exp(m − cs)
    y = h * (c * rel.exp()).unsqueeze(-2)
    y = y.sum(3) if y.shape[3] > 1 else y.squeeze(3)
    if y.shape[0] > 1:
        # The sum over the directions as a matmul with ones: onnxruntime's ReduceSum over a leading axis is
        # several times slower on the CPU.
        y = torch.ones(1, y.shape[0], dtype=y.dtype, device=y.device) @ y.flatten(1)
    return y.view(x.shape)[..., :length]


def _to_seq(maps: Sequence[torch.Tensor], transposes: Sequence[bool]) -> torch.Tensor:
    """Maps (n, c, h, w) → one batch (len(maps)·n, c, h·w), map i's pixels in row-major or (if transposes[i])
    column-major order."""
    seqs = [(m.transpose(-1, -2) if t else m).flatten(-2) for m, t in zip(maps, transposes, strict=True)]
    return torch.cat(seqs, dim=0) if len(seqs) > 1 else seqs[0]


class ChannelLayerNorm(LayerNorm2d):
    """LayerNorm over the channels of N×C×H×W at every pixel (the same function as ``LayerNorm2d``).

    Written for onnxruntime's CPU kernels, whose ReduceMean over a non-innermost axis is about 10× slower
    than a matmul: on maps larger than :attr:`SMALL_MAP` pixels the channel means are matmuls with a
    constant 1×C row; on smaller maps, where per-node overhead dominates, the norm runs channels-last over
    the innermost axis, a pattern onnxruntime fuses into one LayerNormalization kernel (3 nodes, not 11).
    """

    SMALL_MAP = 64

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        if math.prod(shape[2:]) <= self.SMALL_MAP:
            t = x.movedim(1, -1)
            centred = t - t.mean(-1, keepdim=True)
            var = centred.pow(2).mean(-1, keepdim=True)
            return (centred / (var + self.eps).sqrt() * self.weight + self.bias).movedim(-1, 1)
        x = x.flatten(2)
        average = torch.full((1, shape[1]), 1.0 / shape[1], dtype=x.dtype, device=x.device)
        centred = x - average @ x
        var = average @ (centred * centred)
        y = centred / (var + self.eps).sqrt() * self.weight.unsqueeze(-1) + self.bias.unsqueeze(-1)
        return y.reshape(shape)


class SelectiveScan2d(nn.Module):
    """2-D selective-scan mixer (SS2D-like), every per-pixel projection a 1×1 conv on N×C×H×W.

    in_proj → x (and z if ``gate``); x → depthwise 3×3 → SiLU; x_proj gives per pixel and scan direction k
    one step size dt per head and B, C (N values each); the selective scan runs along each direction and the
    results are summed; + D·x; LayerNorm; ⊙ SiLU(z) if ``gate``; out_proj. D is one per channel shared by
    the directions: a per-direction D_k would only enter as Σ_k D_k, so it adds parameters but no
    expressiveness.
    """

    def __init__(
        self,
        channels: int,
        d_state: int,
        expand: float,
        head_dim: int,
        directions: int,
        chunk: int,
        gate: bool,
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
        _check_chunk(chunk)
        self.d_state = d_state
        self.heads = d_inner // head_dim
        self.head_dim = head_dim
        self.directions = directions
        self.chunk = chunk
        self.gate = gate
        self.in_proj = nn.Conv2d(channels, (2 if gate else 1) * d_inner, 1, bias=bias)
        self.conv = nn.Conv2d(d_inner, d_inner, 3, padding=1, groups=d_inner, bias=True)
        # x_proj and out_proj run on (n, c, h·w): onnxruntime then needs no NCHWc layout reorders around them.
        self.x_proj = nn.Conv1d(d_inner, directions * (self.heads + 2 * d_state), 1, bias=False)
        # Mamba's init: step sizes log-uniform in [1e-3, 0.1] (stored through the inverse of
        # DT_MAX·sigmoid) and decay rates A in [1, 16], so heads start out covering short and long memories.
        dt = torch.exp(torch.empty(directions, self.heads).uniform_(math.log(1e-3), math.log(0.1)))
        self.dt_bias = nn.Parameter(torch.log(dt / (DT_MAX - dt)))
        self.A_log = nn.Parameter(torch.empty(directions, self.heads).uniform_(1.0, 16.0).log())
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_norm = ChannelLayerNorm(d_inner)
        self.out_proj = nn.Conv1d(d_inner, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, z = self.in_proj(x), None
        if self.gate:
            u, z = u.chunk(2, dim=1)
        u = F.silu(self.conv(u))
        y = self.out_norm(self.scan(u) + self.D.view(1, -1, 1, 1) * u)
        if z is not None:
            y = y * F.silu(z)
        return self.out_proj(y.flatten(2)).view_as(x)

    def scan(self, u: torch.Tensor) -> torch.Tensor:
        """Sum over the scan directions of the selective scan of ``u`` (n, d_inner, h, w), without D·u."""
        n, d_inner, height, width = u.shape
        transposes, reverse = _SCAN_ORDERS[self.directions]
        g, k, heads, s = len(transposes), len(reverse), self.heads, self.d_state
        # The forward and backward directions of a pixel order share one sequence. x_proj is per pixel, so
        # projecting before reordering equals projecting each reordered sequence.
        params = self.x_proj(u.flatten(2)).unflatten(-1, (height, width))
        seq = _to_seq([u] * g, transposes).view(g * n, heads, self.head_dim, height * width)
        seq_params = _to_seq(params.chunk(g, dim=1) if g > 1 else [params], transposes)
        seq_params = seq_params.unflatten(1, (k, heads + 2 * s)).transpose(0, 1)  # (k, g·n, H + 2N, h·w)
        dt_raw, b, c = seq_params.split([heads, s, s], dim=2)
        # Parameters are stored per direction (g·k, heads), order-major; here per (k, g, ·, heads, ·).
        dt_bias = self.dt_bias.view(g, k, heads).transpose(0, 1)[:, :, None, :, None]
        neg_rate = -self.A_log.exp().view(g, k, heads).transpose(0, 1)[:, :, None, :, None]
        dt = DT_MAX * torch.sigmoid(dt_raw.unflatten(1, (g, n)) + dt_bias)
        log_decay = (dt * neg_rate).flatten(1, 2)
        dt = dt.flatten(1, 2)
        y = selective_scan(seq, log_decay, dt.unsqueeze(3) * b.unsqueeze(2), c.unsqueeze(2), self.chunk, reverse)
        if g == 1:
            return y.view(n, d_inner, height, width)
        rows, columns = y.view(g, n, d_inner, height * width).unbind()
        return rows.unflatten(-1, (height, width)) + columns.unflatten(-1, (width, height)).transpose(-1, -2)


@register_block("ssm", tags=("ssm",))
class SSMBlock(nn.Module):
    """Selective state-space block: x + SS2D-like scan mixer(LN(x)), then x + GDFN(LN(x)).

    A surrogate for Restormer's TransformerBlock with a Mamba-2 style selective scan (cost linear in H·W)
    instead of the attention. d_inner = int(expand·channels) must be a multiple of ``head_dim`` (heads =
    d_inner // head_dim); ``d_state`` N ≥ 1 state entries per channel; ``directions`` ∈ {1, 2, 4} scan
    orders; ``chunk`` 2 … 16 steps per scan chunk (speed only); ``ffn_expansion`` the GDFN's hidden width
    over channels, 0 drops the feed-forward half; ``gate`` multiplies the mixer's output by SiLU(z) of a
    second input projection (Mamba's gate; off by default, as in VMamba's fast variants); ``bias`` applies to
    the 1×1 projections.
    """

    def __init__(
        self,
        channels: int,
        d_state: int = 1,
        expand: float = 1.0,
        head_dim: int = 16,
        directions: int = 2,
        chunk: int = 16,
        ffn_expansion: float = 1.5,
        gate: bool = False,
        bias: bool = False,
    ) -> None:
        super().__init__()
        if ffn_expansion < 0:
            raise ValueError(f"ffn_expansion must be ≥ 0 (0 drops the feed-forward half), got {ffn_expansion}")
        self.norm1 = ChannelLayerNorm(channels)
        self.mixer = SelectiveScan2d(channels, d_state, expand, head_dim, directions, chunk, gate, bias)
        self.norm2: ChannelLayerNorm | None = None
        self.ffn: GDFN | None = None
        if ffn_expansion > 0:
            self.norm2 = ChannelLayerNorm(channels)
            self.ffn = GDFN(channels, ffn_expansion, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(self.norm1(x))
        if self.ffn is None or self.norm2 is None:
            return x
        return x + self.ffn(self.norm2(x))
