"""Positions and candidates: where a block goes and which blocks may go there."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nasbench.errors import ArchitectureError, known


def freeze(value: Any) -> Any:
    """Make option values hashable: lists become tuples, mappings sorted tuples of pairs."""
    if isinstance(value, Mapping):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class Candidate:
    """One block a position may take: a registry ``block`` with ``options``, named ``label`` in
    architecture strings (the block name unless the space says otherwise)."""

    label: str
    block: str
    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, block: str, label: str | None = None, **options: Any) -> Candidate:
        return cls(label or block, block, tuple(sorted((k, freeze(v)) for k, v in options.items())))

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.options)

    def __str__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options)
        body = f"{self.block}({opts})" if opts else self.block
        return body if self.label == self.block else f"{self.label}={body}"


@dataclass(frozen=True)
class Position:
    """A block slot of the backbone: ``name`` is ``{stage}.{index}``, e.g. ``enc2.1``.

    ``channels`` and ``resolution`` (downscale factor relative to the input) fix the block's tensor
    shape; ``candidates`` are its alternatives, the first being the original (baseline) block.
    """

    name: str
    stage: str
    index: int
    channels: int
    resolution: int
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(c.label for c in self.candidates)

    @property
    def searchable(self) -> bool:
        return len(self.candidates) > 1

    def candidate(self, label: str) -> Candidate:
        for c in self.candidates:
            if c.label == label:
                return c
        raise ArchitectureError(f"position {self.name}: unknown candidate {label!r} {known(self.labels)}")

    def signature(self, label: str) -> tuple[Any, ...]:
        """What a block's latency depends on: (block, options, channels, resolution).

        Identical signatures at different positions need to be measured only once.
        """
        c = self.candidate(label)
        return (c.block, c.options, self.channels, self.resolution)
