"""``SearchResult``: what every search engine returns, and its files on disk."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasbench.errors import NasbenchError
from nasbench.space import Architecture, SearchSpace


@dataclass
class SearchResult:
    """The chosen architecture, the search history and, where the engine has one, the Pareto front.

    ``history`` holds one flat dict per step (DARTS: losses, λ, predicted latency, α probabilities) or per
    evaluated candidate (MOBO); ``pareto_front`` is a list of dicts with an ``architecture`` string and the
    objective values; ``summary`` is the baseline-vs-found comparison of ``summary.json`` when computed.
    """

    space: SearchSpace
    architecture: Architecture
    engine: str
    history: list[dict[str, Any]] = field(default_factory=list)
    pareto_front: list[dict[str, Any]] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None

    def save(self, directory: str | Path, plots: bool = True) -> Path:
        """Write architecture.txt/.json, space.yaml, history.csv, result.json, summary.json and plots."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        _write(out / "architecture.txt", str(self.architecture) + "\n")
        _write(out / "architecture.json", self.architecture.to_json(indent=2) + "\n")
        _write(out / "space.yaml", self.space.to_yaml())
        meta = {
            "engine": self.engine,
            "architecture": str(self.architecture),
            "settings": self.settings,
            "pareto_front": self.pareto_front,
        }
        _write(out / "result.json", json.dumps(meta, indent=2, default=str) + "\n")
        if self.summary is not None:
            _write(out / "summary.json", json.dumps(self.summary, indent=2) + "\n")
        if self.history:
            keys = list(dict.fromkeys(k for row in self.history for k in row))
            tmp = out / "history.csv.tmp"
            with tmp.open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=keys)
                writer.writeheader()
                writer.writerows(self.history)
            tmp.replace(out / "history.csv")
        if plots:
            from nasbench.search.plots import plot_result

            plot_result(self, out)
        return out

    @classmethod
    def load(cls, directory: str | Path) -> SearchResult:
        """Read a result written by :meth:`save` (plots are not read back)."""
        d = Path(directory)
        try:
            space = SearchSpace.from_yaml(d / "space.yaml")
            meta = json.loads((d / "result.json").read_text(encoding="utf-8"))
            arch = Architecture.from_json(space, (d / "architecture.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise NasbenchError(f"{d}: not a search result directory ({exc})") from None
        history: list[dict[str, Any]] = []
        if (d / "history.csv").exists():
            with (d / "history.csv").open(newline="", encoding="utf-8") as f:
                history = [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]
        summary = json.loads((d / "summary.json").read_text()) if (d / "summary.json").exists() else None
        return cls(space, arch, meta["engine"], history, meta.get("pareto_front"), meta.get("settings", {}), summary)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _number(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value
