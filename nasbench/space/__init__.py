"""Search spaces: backbones, positions, candidates and architectures; built-in spaces by name."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from nasbench.errors import SpaceError, known
from nasbench.space.architecture import Architecture
from nasbench.space.backbones import Backbone, Stage, list_backbones, register_backbone
from nasbench.space.position import Candidate, Position
from nasbench.space.space import SearchSpace


def _builtin_dir() -> Path:
    return Path(str(resources.files("nasbench") / "search_spaces"))


def list_spaces() -> list[str]:
    """Names of the built-in search spaces (``nasbench/search_spaces/*.yaml``)."""
    return sorted(p.stem for p in _builtin_dir().glob("*.yaml"))


def load_space(name_or_path: str | Path) -> SearchSpace:
    """A built-in space by name (``nafnet_sidd``, ...) or a space from a YAML file path."""
    text = str(name_or_path)
    if text in list_spaces():
        return SearchSpace.from_yaml(_builtin_dir() / f"{text}.yaml")
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return SearchSpace.from_yaml(path)
    raise SpaceError(f"unknown search space {text!r}: not a built-in space {known(list_spaces())} nor a YAML file")


__all__ = [
    "Architecture",
    "Backbone",
    "Candidate",
    "Position",
    "SearchSpace",
    "Stage",
    "list_backbones",
    "list_spaces",
    "load_space",
    "register_backbone",
]
