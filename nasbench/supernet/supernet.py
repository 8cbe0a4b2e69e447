"""The supernet of a search space: the backbone with a :class:`MixedBlock` at every searchable position."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from nasbench.blocks import create_block
from nasbench.space import Architecture, SearchSpace
from nasbench.supernet.mixed import MixedBlock, Mode


class Supernet(nn.Module):
    """All candidates of ``space`` in one network; α (one vector per searchable position) lives inside.

    Keeping α inside the module matters for DistributedDataParallel: its gradients are all-reduced with
    the weights', so every rank holds the same α. Fixed positions (one candidate) hold their plain block.
    """

    def __init__(self, space: SearchSpace, mode: Mode = "all", paths: int = 1, temperature: float = 1.0) -> None:
        super().__init__()
        if mode not in ("all", "sampled"):
            raise ValueError(f"mode must be 'all' or 'sampled', got {mode!r}")
        if paths not in (1, 2):
            raise ValueError(f"paths must be 1 or 2, got {paths}")
        self.space = space
        blocks: dict[str, list[nn.Module]] = {s.name: [] for s in space.stages}
        index = 0
        for p in space.positions:
            made = [create_block(c.block, p.channels, **c.kwargs) for c in p.candidates]
            if p.searchable:
                block = MixedBlock(p.name, p.labels, made)
                block.index = index
                index += 1
            else:
                block = made[0]
            blocks[p.stage].append(block)
        self.net = space.backbone_cls(space.backbone_config, blocks)
        self.configure(mode=mode, paths=paths, temperature=temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def mixed_blocks(self) -> Iterator[MixedBlock]:
        return (m for m in self.net.modules() if isinstance(m, MixedBlock))

    def configure(
        self, *, mode: Mode | None = None, paths: int | None = None, temperature: float | None = None
    ) -> None:
        for m in self.mixed_blocks():
            m.mode = mode or m.mode
            m.paths = paths or m.paths
            m.temperature = temperature if temperature is not None else m.temperature

    def set_step(self, step: int, seed: int) -> None:
        """Fix the Gumbel draws of ``sampled`` mode for this step (identical on every rank)."""
        for m in self.mixed_blocks():
            m.step, m.seed = step, seed

    def arch_parameters(self) -> list[nn.Parameter]:
        return [m.alpha for m in self.mixed_blocks()]

    def weight_parameters(self) -> list[nn.Parameter]:
        alphas = {id(a) for a in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in alphas]

    def probabilities(self) -> dict[str, torch.Tensor]:
        """softmax(α / T) per searchable position."""
        return {m.position: m.probabilities() for m in self.mixed_blocks()}

    def entropy(self) -> dict[str, torch.Tensor]:
        """Normalised entropy H(p) / log K per searchable position, in [0, 1] (differentiable)."""
        out = {}
        for position, p in self.probabilities().items():
            out[position] = -(p * torch.log(p.clamp_min(1e-12))).sum() / torch.log(torch.tensor(float(len(p))))
        return out

    def derive(self) -> Architecture:
        """The architecture taking each position's most probable candidate (argmax α)."""
        chosen = {m.position: m.labels[int(torch.argmax(m.alpha))] for m in self.mixed_blocks()}
        return Architecture(self.space, [chosen.get(p.name, p.candidates[0].label) for p in self.space.positions])
