"""The block registry: every candidate a search space can name.

A block is an ``nn.Module`` class constructed as ``cls(channels, **options)`` that maps N×C×H×W to
N×C×H×W. ``@register_block("name")`` makes a class available to YAML search spaces and to
:func:`create_block`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn

from nasbench.errors import BlockError, known, suggest

ModuleT = TypeVar("ModuleT", bound=type[nn.Module])


@dataclass(frozen=True)
class BlockInfo:
    """What the registry knows about one block type."""

    name: str
    cls: type[nn.Module]
    tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def options(self) -> dict[str, Any]:
        """Option names and their defaults (``inspect.Parameter.empty`` when required)."""
        params = list(inspect.signature(self.cls.__init__).parameters.values())[2:]
        return {
            p.name: p.default
            for p in params
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        }

    @property
    def accepts_any_option(self) -> bool:
        params = inspect.signature(self.cls.__init__).parameters.values()
        return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.cls) or ""
        return doc.splitlines()[0] if doc else ""


_BLOCKS: dict[str, BlockInfo] = {}


def register_block(name: str, *, tags: tuple[str, ...] = (), overwrite: bool = False) -> Callable[[ModuleT], ModuleT]:
    """Class decorator: register an ``nn.Module`` class as the block ``name``.

    The class must take ``(channels, **options)`` and map N×C×H×W → N×C×H×W. ``tags`` are free-form
    labels (``"npu_native"``, ``"attention"``) that spaces and checks may filter on.

    Example::

        @nasbench.register_block("my_block")
        class MyBlock(nn.Module):
            def __init__(self, channels: int, expand: int = 2): ...
    """
    if not name or not name.replace("_", "").isalnum():
        raise BlockError(f"register_block: name {name!r} must be letters, digits and '_'")

    def decorate(cls: ModuleT) -> ModuleT:
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise BlockError(f"register_block({name!r}): {cls!r} is not an nn.Module class")
        params = list(inspect.signature(cls.__init__).parameters)
        if len(params) < 2:
            raise BlockError(f"register_block({name!r}): {cls.__name__}.__init__ must take (channels, **options)")
        if name in _BLOCKS and not overwrite and _BLOCKS[name].cls is not cls:
            raise BlockError(
                f"register_block: block {name!r} is already registered by "
                f"{_BLOCKS[name].cls.__module__}.{_BLOCKS[name].cls.__qualname__} (pass overwrite=True)"
            )
        _BLOCKS[name] = BlockInfo(name=name, cls=cls, tags=frozenset(tags))
        return cls

    return decorate


def unregister_block(name: str) -> None:
    """Remove a block from the registry (for tests and interactive sessions)."""
    block_info(name)
    del _BLOCKS[name]


def list_blocks(tag: str | None = None) -> list[str]:
    """Names of the registered blocks, sorted; only those carrying ``tag`` when given."""
    return sorted(n for n, info in _BLOCKS.items() if tag is None or tag in info.tags)


def block_info(name: str) -> BlockInfo:
    """The :class:`BlockInfo` of ``name``; a :class:`BlockError` naming the known blocks otherwise."""
    try:
        return _BLOCKS[name]
    except KeyError:
        raise BlockError(f"unknown block {name!r} {known(list_blocks())}{suggest(str(name), _BLOCKS)}") from None


def check_options(name: str, options: Mapping[str, Any]) -> None:
    """Raise :class:`BlockError` if ``options`` names an option block ``name`` does not take."""
    info = block_info(name)
    if info.accepts_any_option:
        return
    allowed = info.options
    for key in options:
        if key not in allowed:
            raise BlockError(
                f"block {name!r} has no option {key!r} {known(allowed) if allowed else '(it takes none)'}"
                f"{suggest(key, allowed)}"
            )


def create_block(name: str, channels: int, **options: Any) -> nn.Module:
    """Build block ``name`` for ``channels`` channels with ``options``.

    Raises :class:`BlockError` for an unknown block, an unknown option, or options the block rejects.
    A block registered outside nasbench (a user block) is also checked against the contract: any error
    its constructor raises, and a probe forward pass (eval mode, no grad, a 1×C×8×8 tensor) that fails
    or does not return a tensor of the input's shape, are reported as :class:`BlockError`.
    """
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise BlockError(f"block {name!r}: channels must be a positive integer, got {channels!r}")
    check_options(name, options)
    cls = block_info(name).cls
    user = not cls.__module__.startswith("nasbench.")
    where = f"block {name!r} (channels={channels}, options={dict(options)})"
    try:
        block = cls(channels, **options)
    except Exception as exc:
        if not (user or isinstance(exc, ValueError | TypeError)):
            raise
        raise BlockError(f"{where}: {_describe(exc) if user else exc}") from exc
    if user:
        _check_contract(block, channels, where)
    return block


PROBE_SIDE = 8


def _check_contract(block: nn.Module, channels: int, where: str) -> None:
    """Run a 1×C×8×8 tensor through ``block`` (eval mode, no grad; its mode is restored afterwards)."""
    probe = torch.rand(1, channels, PROBE_SIDE, PROBE_SIDE, generator=torch.Generator().manual_seed(0))
    shape = "×".join(map(str, probe.shape))
    training = block.training
    block.eval()
    try:
        with torch.no_grad():
            out = block(probe)
    except Exception as exc:
        raise BlockError(f"{where}: the forward pass of a {shape} tensor failed: {_describe(exc)}") from exc
    finally:
        block.train(training)
    if not isinstance(out, torch.Tensor) or out.shape != probe.shape:
        got = "×".join(map(str, out.shape)) if isinstance(out, torch.Tensor) else f"a {type(out).__name__}"
        raise BlockError(f"{where}: maps a {shape} tensor to {got}; a block must map N×C×H×W to N×C×H×W")


def _describe(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
