"""A named registry with a decorator, used by every extension point (models, losses, degradations,
backbones, profile importers): one place for registration and for the "unknown name" error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from nasbench.errors import NasbenchError, known, suggest

T = TypeVar("T")
U = TypeVar("U")


class Registry(Generic[T]):
    """Name → object. ``kind`` names the things in messages; ``error`` is the exception class raised."""

    def __init__(self, kind: str, error: type[NasbenchError] = NasbenchError) -> None:
        self.kind, self.error = kind, error
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[U], U]:
        """Decorator registering its argument as ``name``; registering another object under a taken name
        raises (re-registering the same object, as a module reload does, is allowed)."""

        def decorate(item: U) -> U:
            if name in self._items and self._items[name] is not item:
                raise self.error(f"register_{self.kind.replace(' ', '_')}: {self.kind} {name!r} is already registered")
            self._items[name] = item  # type: ignore[assignment]
            return item

        return decorate

    def get(self, name: str, owner: str = "") -> T:
        """The object registered as ``name``; an error naming the known names otherwise."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            prefix = f"{owner}: " if owner else ""
            raise self.error(
                f"{prefix}unknown {self.kind} {name!r} {known(self.names())}{suggest(str(name), self._items)}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
