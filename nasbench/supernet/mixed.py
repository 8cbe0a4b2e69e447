"""Mixed blocks: every candidate of a position side by side, weighted by architecture logits α.

Two modes:

``all``
    Classic DARTS: the output is Σ_k softmax(α / T)_k · candidate_k(x). Every candidate runs.
``sampled``
    GDAS/ProxylessNAS-style: per step, ``paths`` candidates (1 or 2) are drawn by Gumbel-top-k on
    α / T; only they run. With one path the output is candidate_i(x) scaled by a straight-through
    one-hot (value 1, gradient of the Gumbel-softmax), with two the drawn candidates are mixed by their
    renormalised Gumbel-softmax weights. The draw comes from a generator seeded by (seed, step, position),
    so every rank of a distributed run — and a resumed run — draws the same path without communicating.

Comparable outputs (our choice): all built-in candidates are residual, x + f(x), so a convex mixture is
x + Σ w_k f_k(x). The NAF family keeps its official zero-initialised β/γ — a fresh NAF candidate is the
identity and would lose every early comparison against a candidate that already does something — so
``search.darts`` trains the weights alone for ``warmup_steps`` before α moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Mode = Literal["all", "sampled"]


class MixedBlock(nn.Module):
    """The candidates of one position and their architecture logits ``alpha`` (shape K)."""

    def __init__(self, position: str, labels: Sequence[str], candidates: Sequence[nn.Module]) -> None:
        super().__init__()
        self.position = position
        self.labels = tuple(labels)
        self.candidates = nn.ModuleList(candidates)
        self.alpha = nn.Parameter(torch.zeros(len(candidates)))
        self.index = 0  # position index, part of the sampling seed
        self.mode: Mode = "all"
        self.paths = 1
        self.temperature = 1.0
        self.seed = 0
        self.step = 0
        self.last_sample: tuple[int, ...] = ()

    def probabilities(self) -> torch.Tensor:
        return F.softmax(self.alpha / self.temperature, dim=0)

    def _gumbel(self) -> torch.Tensor:
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + self.step) * 1_009 + self.index)
        u = torch.rand(len(self.candidates), generator=generator, dtype=torch.float64)
        return (-torch.log(-torch.log(u.clamp_min(1e-20)))).to(self.alpha.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "all" or not self.training:
            weights = self.probabilities()
            return sum(w * c(x) for w, c in zip(weights, self.candidates))  # type: ignore[return-value]
        soft = F.softmax((self.alpha + self._gumbel()) / self.temperature, dim=0)
        chosen = torch.topk(soft.detach(), self.paths).indices.tolist()
        self.last_sample = tuple(chosen)
        if self.paths == 1:
            i = chosen[0]
            gate = 1.0 + soft[i] - soft[i].detach()  # straight-through: forward value 1, gradient of soft
            return gate * self.candidates[i](x)
        weights = soft[chosen] / soft[chosen].sum()
        return sum(w * self.candidates[i](x) for w, i in zip(weights, chosen))  # type: ignore[return-value]
