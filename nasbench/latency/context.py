"""Blocks measured in context: a block signature timed inside the skeleton network instead of alone.

For a signature s, the *context network* is the skeleton (every block the identity) with every position
that can take s set to it; the block's in-context latency is ``(T(context network) − T(skeleton)) / k``
for its k positions. Unlike a block timed alone, this includes what the block costs where it really runs:
the samplers and skips around it, the layout reorders at its boundaries, and — with k copies in a row —
weights that no longer all fit in the cache. ``LatencyTable.profile(..., context=True)`` measures every
entry this way (source ``context``).
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import nn

from nasbench.blocks import create_block
from nasbench.blocks.conv import IdentityBlock
from nasbench.latency.runtime import Stats
from nasbench.latency.table import BlockKey, Entry, LatencyTable
from nasbench.space import SearchSpace


def context_network(space: SearchSpace, choices: Mapping[str, str]) -> nn.Module:
    """The skeleton of ``space`` with the positions named in ``choices`` set to those candidates."""
    blocks: dict[str, list[nn.Module]] = {s.name: [] for s in space.stages}
    for stage in space.stages:
        for i in range(stage.blocks):
            label = choices.get(f"{stage.name}.{i}")
            if label is None:
                blocks[stage.name].append(IdentityBlock(stage.channels))
            else:
                c = space.position(f"{stage.name}.{i}").candidate(label)
                blocks[stage.name].append(create_block(c.block, stage.channels, **c.kwargs))
    return space.backbone_cls(space.backbone_config, blocks)


def context_choices(space: SearchSpace, table: LatencyTable, size: tuple[int, int]) -> dict[BlockKey, dict[str, str]]:
    """For every signature ``space`` needs at ``size`` (H, W): position → candidate label of every position
    that can take it (the positions its context network fills)."""
    out: dict[BlockKey, dict[str, str]] = {}
    for m in table.required(space, None, size):
        if isinstance(m.key, BlockKey):
            out.setdefault(m.key, {}).setdefault(m.position, m.candidate)
    return out


def context_entry(network: Stats, skeleton: Stats, copies: int) -> Entry:
    """The per-block entry from the context network's and the skeleton's timings (ms), clipped at 0."""

    def per_block(ms: float) -> float:
        return round(max(0.0, (ms - skeleton.median_ms) / copies), 5)

    return Entry(
        per_block(network.median_ms), per_block(network.p10_ms), per_block(network.p90_ms), network.runs, "context"
    )
