"""The artifacts of a run directory, read once for every report section.

A run directory is what ``nasbench quickstart``, ``nasbench search mobo`` and the recipes write
(``summary.json`` plus, where the engine made them, ``result.json``/``space.yaml``/``history.csv``,
``latency_table.yaml``, ``saliency.csv``). Only ``summary.json`` is required; every other artifact is
``None`` when absent or unreadable, with the reason in :attr:`Run.problems`, so the sections that need
it can say why they are left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nasbench.errors import NasbenchError
from nasbench.latency import LatencyTable
from nasbench.search.result import SearchResult
from nasbench.space import SearchSpace

SUMMARY = "summary.json"


@dataclass
class Run:
    """One run directory: the summary and whatever other artifacts could be read."""

    directory: Path
    summary: dict[str, Any]
    result: SearchResult | None = None
    space: SearchSpace | None = None
    table: LatencyTable | None = None
    saliency: pd.DataFrame | None = None
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self) -> str | None:
        """``darts`` or ``mobo`` (from result.json, else the summary's settings), or None."""
        if self.result is not None:
            return self.result.engine
        return self.summary.get("settings", {}).get("engine")

    @property
    def latency_input(self) -> list[int] | None:
        """[H, W] in px that the summary's latencies are for (its settings, else the table's size)."""
        size = self.summary.get("settings", {}).get("latency_input")
        if size is None and self.table is not None:
            size = list(self.table.input_size)
        return list(size) if size is not None else None


def load_run(directory: str | Path) -> Run:
    """Read ``directory``; raises :class:`NasbenchError` when it holds no readable ``summary.json``."""
    d = Path(directory)
    if not d.is_dir():
        raise NasbenchError(f"{d}: not a directory (give a run directory holding {SUMMARY})")
    path = d / SUMMARY
    if not path.is_file():
        raise NasbenchError(f"{d}: no {SUMMARY} — not a finished run (quickstart, search mobo or a recipe)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise NasbenchError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    missing = [k for k in ("baseline", "found") if not isinstance(summary.get(k), dict)]
    if not isinstance(summary, dict) or missing:
        raise NasbenchError(f"{path}: a run summary needs 'baseline' and 'found' entries (missing: {missing})")
    run = Run(d, summary)
    run.result = _optional(run, "result.json", lambda: SearchResult.load(d), d / "result.json")
    run.space = run.result.space if run.result is not None else None
    if run.space is None:
        run.space = _optional(run, "space.yaml", lambda: SearchSpace.from_yaml(d / "space.yaml"), d / "space.yaml")
    table = d / "latency_table.yaml"
    run.table = _optional(run, "latency_table.yaml", lambda: LatencyTable.load(table), table)
    scores = d / "saliency.csv"
    run.saliency = _optional(run, "saliency.csv", lambda: pd.read_csv(scores, index_col=0), scores)
    return run


def _optional(run: Run, name: str, read: Any, path: Path) -> Any:
    if not path.exists():
        run.problems[name] = f"{name} not in the run directory"
        return None
    try:
        return read()
    except (NasbenchError, OSError, ValueError, KeyError) as exc:
        run.problems[name] = f"{name} could not be read: {' '.join(str(exc).split())[:200]}"
        return None
