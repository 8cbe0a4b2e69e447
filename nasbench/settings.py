"""Recipe settings: one section of a YAML file, with ``KEY=VALUE`` overrides from the command line.

    cfg = load_settings("examples/lite_denoise.yaml", "tiny", ["students.steps=50", "data.sigma=15"])

A key is a dotted path into the section (missing parents are created); a value is parsed as YAML, so
``50`` is an int, ``[[25, 32, 4]]`` a list and ``null`` None.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from nasbench.errors import NasbenchError, known


class SettingsError(NasbenchError):
    """A settings file without the requested section, or a malformed override."""


def apply_overrides(config: dict[str, Any], overrides: Sequence[str], source: str = "--set") -> dict[str, Any]:
    """Set each ``dotted.key=yaml_value`` of ``overrides`` in ``config`` (in place) and return it."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SettingsError(f"{source} {item!r}: expected KEY=VALUE, e.g. students.steps=50")
        *parents, leaf = key.split(".")
        node = config
        for depth, part in enumerate(parents):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SettingsError(f"{source} {item!r}: {'.'.join(parents[: depth + 1])} is not a mapping")
        try:
            node[leaf] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise SettingsError(f"{source} {item!r}: the value is not valid YAML ({exc.problem})") from None
    return config


def load_settings(path: str | Path, section: str, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Section ``section`` (e.g. a scale, ``tiny``) of the YAML mapping in ``path``, with ``overrides``."""
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get(section), dict):
        sections = [k for k, v in data.items() if isinstance(v, dict)] if isinstance(data, dict) else []
        raise SettingsError(f"{path}: no section {section!r} {known(sections)}")
    return apply_overrides(data[section], overrides)


__all__ = ["SettingsError", "apply_overrides", "load_settings"]
