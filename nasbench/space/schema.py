"""Reading untrusted configuration (YAML or Python dicts) with errors that name the file and key.

``Where`` carries the source (a file path, or ``SearchSpace('name')`` for the Python API) and the key
path; every check raises :class:`~nasbench.errors.SpaceError` with a message such as::

    search_spaces/x.yaml: backbone.width: expected an integer, got 'wide'
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from nasbench.errors import NasbenchError, SpaceError, known, suggest

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Where:
    """A location in a configuration: the source and the key path inside it."""

    source: str
    keys: tuple[str, ...] = ()

    def __truediv__(self, key: object) -> Where:
        return Where(self.source, (*self.keys, str(key)))

    def __str__(self) -> str:
        return f"{self.source}: {'.'.join(self.keys)}" if self.keys else self.source

    def error(self, message: str) -> SpaceError:
        return SpaceError(f"{self}: {message}")


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads floats written the JSON / YAML 1.2 way, such as ``8e-05``
    (YAML 1.1 wants ``8.0e-05`` and would give the string ``'8e-05'``): latency-table entry lines are JSON."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def read_yaml(path: str | Path, error: type[NasbenchError] = SpaceError) -> tuple[str, Any]:
    """The text of a YAML file and its ``yaml.safe_load`` value; unreadable or malformed files raise
    ``error`` with one line naming the file (and the line and column of a syntax error)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from None
    try:
        duplicate = _duplicate_key(yaml.compose(text, Loader=_Loader))
        loader = _Loader(text)  # what yaml.safe_load does, with the float resolver above
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{path}: malformed YAML: {where}{problem}") from None
    if duplicate:
        raise error(f"{path}: {duplicate}")
    return text, data


def _duplicate_key(node: yaml.Node | None, keys: tuple[str, ...] = ()) -> str | None:
    """A message for the first key that appears twice in one mapping (``yaml.safe_load`` would silently
    keep the last value), or ``None``."""
    children: list[tuple[str, yaml.Node]] = []
    if isinstance(node, yaml.MappingNode):
        lines: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
            if isinstance(key, yaml.ScalarNode) and name in lines:
                where = ".".join((*keys, name))
                return f"{where}: duplicate key (lines {lines[name]} and {key.start_mark.line + 1}); remove one of them"
            lines[name] = key.start_mark.line + 1
            children.append((name, value))
    elif isinstance(node, yaml.SequenceNode):
        children = [(str(i), item) for i, item in enumerate(node.value)]
    for name, child in children:
        found = _duplicate_key(child, (*keys, name))
        if found:
            return found
    return None


def load_yaml_mapping(path: str | Path, expected: str) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; ``expected`` describes its keys for the error."""
    _, data = read_yaml(path)
    if data is None:
        raise SpaceError(f"{path}: empty file; expected a mapping with {expected}")
    if not isinstance(data, dict):
        raise SpaceError(f"{path}: expected a mapping with {expected}, got {type(data).__name__}")
    return data


def describe(value: object) -> str:
    return repr(value) if isinstance(value, str | int | float | bool) or value is None else type(value).__name__


def mapping(value: object, where: Where, allowed: Sequence[str], required: Sequence[str] = ()) -> dict[str, Any]:
    """``value`` as a dict whose keys are all in ``allowed`` and include ``required``."""
    if not isinstance(value, Mapping):
        raise where.error(f"expected a mapping, got {describe(value)}")
    for key in value:
        if not isinstance(key, str) or key not in allowed:
            raise (where / key).error(f"unknown key {known(allowed)}{suggest(str(key), allowed)}")
    for key in required:
        if key not in value:
            raise where.error(f"missing required key {key!r}")
    return dict(value)


def string(value: object, where: Where) -> str:
    if not isinstance(value, str) or not value:
        raise where.error(f"expected a non-empty string, got {describe(value)}")
    return value


def identifier(value: object, where: Where) -> str:
    """A name usable in architecture strings: letters, digits, '_' and '-'."""
    text = string(value, where)
    if not all(ch.isalnum() or ch in "_-" for ch in text):
        raise where.error(f"{text!r} may contain only letters, digits, '_' and '-'")
    return text


def string_list(value: object, where: Where) -> list[object]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise where.error(f"expected a list, got {describe(value)}")
    if not value:
        raise where.error("expected a non-empty list")
    return list(value)


def _coerce(value: object, hint: object, where: Where) -> object:
    origin = typing.get_origin(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise where.error(f"expected true or false, got {describe(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise where.error(f"expected an integer, got {describe(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise where.error(f"expected a number, got {describe(value)}")
        return float(value)
    if hint is str:
        return string(value, where)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise where.error(f"{describe(value)} is not allowed {known(allowed)}")
        return value
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise where.error(f"expected a list, got {describe(value)}")
        return tuple(_coerce(v, item, where / i) for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        return value
    raise TypeError(f"unsupported config field type {hint!r}")


def dataclass_from(cls: type[T], value: object, where: Where, skip: Sequence[str] = ()) -> T:
    """Build the frozen dataclass ``cls`` from a mapping, checking keys and types field by field.

    ``skip`` names keys of the mapping that belong to the caller (e.g. ``type``). The dataclass's own
    ``__post_init__`` checks (raising ``ValueError``) are reported at ``where``.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    data = mapping(value, where, [*skip, *fields])
    hints = typing.get_type_hints(cls)
    kwargs = {k: _coerce(v, hints[k], where / k) for k, v in data.items() if k not in skip}
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise where.error(str(exc)) from None


def dataclass_to_dict(obj: object) -> dict[str, Any]:
    """A dataclass as plain YAML-ready values (tuples become lists)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out
