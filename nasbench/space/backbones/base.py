"""What every backbone provides, and the backbone registry.

A backbone is a U-Net (or any network) with *stages*: runs of block positions that share channels and
resolution. It declares its configuration as a frozen dataclass, lists its stages for a configuration,
and builds a plain ``nn.Module`` from one block module per position.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from nasbench.errors import ShapeError, SpaceError, known
from nasbench.registry import Registry


@dataclass(frozen=True)
class Stage:
    """A run of ``blocks`` positions named ``{name}.{i}`` at ``channels`` channels.

    ``resolution`` is the downscale factor relative to the input (1 = full resolution, 2 = half, ...).
    ``block_options`` are defaults the backbone gives to particular blocks at this stage, keyed by block
    name (Restormer's ``heads`` per level, for example).
    """

    name: str
    channels: int
    resolution: int
    blocks: int
    block_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class Backbone(nn.Module, metaclass=ABCMeta):
    """Base class of backbone networks: a plain ``nn.Module`` plus the class-level stage layout.

    Subclasses set ``Config`` (a frozen dataclass of the backbone's settings), implement
    :meth:`stages` and take ``(config, blocks)`` in ``__init__`` where ``blocks`` maps each stage name to
    its block modules in order.
    """

    Config: ClassVar[type]
    in_channels: int
    pad_multiple: int = 1

    @classmethod
    @abstractmethod
    def stages(cls, config: Any) -> list[Stage]:
        """The stages of this backbone for ``config``, in forward order."""

    def check_input(self, x: torch.Tensor) -> None:
        """Reject inputs the network cannot take, with a message naming the expected shape."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ShapeError(
                f"{type(self).__name__}: expected an N×{self.in_channels}×H×W tensor, got shape {tuple(x.shape)}"
            )

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """Zero-pad right and bottom to a multiple of ``pad_multiple`` (the official NAFNet padding)."""
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.pad_multiple, (-w) % self.pad_multiple
        return F.pad(x, (0, pw, 0, ph)) if ph or pw else x


def unet_stages(
    width: int, encoder_blocks: Sequence[int], middle: str, middle_blocks: int, decoder_blocks: Sequence[int]
) -> list[Stage]:
    """Stages of a U-Net whose channels double per level: ``enc1..encL``, ``middle``, ``decL..dec1``."""
    levels = len(encoder_blocks)
    enc = [Stage(f"enc{i + 1}", width * 2**i, 2**i, n) for i, n in enumerate(encoder_blocks)]
    mid = [Stage(middle, width * 2**levels, 2**levels, middle_blocks)]
    dec = [
        Stage(f"dec{levels - j}", width * 2 ** (levels - 1 - j), 2 ** (levels - 1 - j), n)
        for j, n in enumerate(decoder_blocks)
    ]
    return enc + mid + dec


BackboneT = TypeVar("BackboneT", bound=type[Backbone])
_BACKBONES: Registry[type[Backbone]] = Registry("backbone", SpaceError)


def register_backbone(name: str) -> Callable[[BackboneT], BackboneT]:
    """Class decorator: make a :class:`Backbone` subclass available to search spaces as ``type: name``."""
    return _BACKBONES.register(name)


def list_backbones() -> list[str]:
    return _BACKBONES.names()


def get_backbone(name: str) -> type[Backbone]:
    return _BACKBONES.get(name)


def check_blocks(stages: Sequence[Stage], blocks: Mapping[str, Sequence[nn.Module]]) -> None:
    """Every stage gets exactly its number of blocks; raise :class:`SpaceError` otherwise."""
    for stage in stages:
        got = len(blocks.get(stage.name, ()))
        if got != stage.blocks:
            raise SpaceError(f"stage {stage.name!r} needs {stage.blocks} blocks, got {got}")
    extra = set(blocks) - {s.name for s in stages}
    if extra:
        raise SpaceError(f"blocks given for unknown stages {sorted(extra)} {known(s.name for s in stages)}")
