"""The data behind each report section: plain objects computed from a :class:`~nasbench.report.run.Run`.

Every collector returns a dataclass of arrays and strings (testable without drawing anything) or raises
:class:`Omitted` with the reason the section cannot be shown for this run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nasbench.errors import NasbenchError
from nasbench.report.run import Run
from nasbench.search.plots import darts_series, mobo_series
from nasbench.search.saliency import saliency_plot_data
from nasbench.search.summary import format_summary

NAMES = ("baseline", "found")


class Omitted(Exception):
    """A section left out of the report; the message says why (shown in its place)."""


def _search_result(run: Run, engine: str) -> Any:
    if run.engine != engine:
        raise Omitted(f"not a {engine} run (engine: {run.engine or 'unknown'})")
    if run.result is None:
        raise Omitted(run.problems.get("result.json", "no search result in the run directory"))
    if not run.result.history:
        raise Omitted("history.csv not in the run directory")
    return run.result


# ---------------------------------------------------------------------- DARTS
@dataclass
class AlphaHeatmap:
    """Final candidate probabilities softmax(α/T): ``probabilities`` is P×K (positions × labels), NaN
    where a position lacks a label; ``chosen`` is the derived (argmax) label per position."""

    positions: list[str]
    labels: list[str]
    probabilities: np.ndarray
    chosen: list[str]
    step: int


def alpha_heatmap(run: Run) -> AlphaHeatmap:
    result = _search_result(run, "darts")
    try:
        series = darts_series(result)
    except KeyError as exc:
        raise Omitted(f"history.csv lacks the column {exc.args[0]!r}") from None
    positions = result.space.searchable_positions
    labels = list(dict.fromkeys(label for p in positions for label in p.labels))
    probs = np.full((len(positions), len(labels)), np.nan)
    for row, p in enumerate(positions):
        final = series[f"p/{p.name}"][-1]
        for label, value in zip(p.labels, final):
            probs[row, labels.index(label)] = value
    chosen = [result.architecture[p.name] for p in positions]
    return AlphaHeatmap([p.name for p in positions], labels, probs, chosen, int(series["step"][-1]))


# ---------------------------------------------------------------------- MOBO
@dataclass
class ParetoPlot:
    """Every evaluation's two objectives (``x``, ``y``) and masks for the front, baseline, knee and the
    architecture that was trained (``selected``; the knee unless a selection rule chose another)."""

    names: tuple[str, str]
    x: np.ndarray
    y: np.ndarray
    on_front: np.ndarray
    baseline: np.ndarray
    knee: np.ndarray
    selected: np.ndarray


def pareto_plot(run: Run) -> ParetoPlot:
    result = _search_result(run, "mobo")
    s = mobo_series(result)
    trials = np.array([r["trial"] for r in result.history])
    chosen = run.summary.get("settings", {}).get("selected", {}).get("trial", result.settings.get("knee_trial"))
    return ParetoPlot(
        (str(s["names"][0]), str(s["names"][1])),
        s["x"],
        s["y"],
        s["on_front"],
        s["baseline"],
        s["knee"],
        trials == chosen,
    )


@dataclass
class HypervolumeHistory:
    """Dominated hypervolume after each complete evaluation (in trial order), and its reference point."""

    evaluation: np.ndarray
    hypervolume: np.ndarray
    reference_point: list[float] | None


def hypervolume_history(run: Run) -> HypervolumeHistory:
    try:
        result = _search_result(run, "mobo")
    except Omitted as exc:
        raise Omitted(f"{exc}; only multi-objective searches have a hypervolume") from None
    s = mobo_series(result)
    return HypervolumeHistory(s["evaluation"], s["hypervolume"], result.settings.get("reference_point"))


# ---------------------------------------------------------------------- latency
@dataclass
class LatencyBreakdown:
    """Predicted ms per part (``skeleton`` then every position, space order) of baseline and found, from
    the run's latency table at ``input_size`` [H, W]; ``blocks`` the candidate per part ('' for the
    skeleton); ``measured`` the end-to-end onnxruntime medians (ms) from summary.json."""

    parts: list[str]
    predicted: dict[str, np.ndarray]
    blocks: dict[str, list[str]]
    measured: dict[str, float | None]
    input_size: list[int]

    def predicted_total(self, name: str) -> float:
        return float(self.predicted[name].sum())


def latency_breakdown(run: Run) -> LatencyBreakdown:
    if run.table is None:
        raise Omitted(run.problems.get("latency_table.yaml", "no latency table"))
    if run.space is None:
        raise Omitted(run.problems.get("space.yaml", "no search space"))
    size = run.latency_input
    predicted, blocks, parts = {}, {}, []
    for name in NAMES:
        try:
            arch = run.space.architecture(run.summary[name]["architecture"])
            parts_ms = run.table.breakdown(run.space, arch, size)
        except (NasbenchError, KeyError) as exc:
            raise Omitted(f"{name}: cannot price it with latency_table.yaml ({exc})") from None
        parts = list(parts_ms)
        predicted[name] = np.array([parts_ms[p] for p in parts], dtype=float)
        blocks[name] = ["" if p == "skeleton" else arch[p] for p in parts]
    measured = {name: run.summary[name].get("latency_ms") for name in NAMES}
    return LatencyBreakdown(parts, predicted, blocks, measured, list(size) if size else [])


# ---------------------------------------------------------------------- saliency
@dataclass
class SaliencyBars:
    """The saliency scores (positions × metrics, plus the aggregate rank) and the protected positions."""

    scores: pd.DataFrame
    protected: list[str]
    panels: dict[str, Any]


def saliency_bars(run: Run) -> SaliencyBars:
    if run.saliency is None:
        raise Omitted(run.problems.get("saliency.csv", "no saliency scores"))
    protected = run.summary.get("settings", {}).get("protected", 1)
    try:
        data = saliency_plot_data(run.saliency, protected)
    except NasbenchError as exc:
        raise Omitted(f"saliency.csv: {exc}") from None
    names = [p for p, flag in zip(data["positions"], data["protected"]) if flag]
    return SaliencyBars(run.saliency, names, data)


# ---------------------------------------------------------------------- tables
@dataclass
class Table:
    """Rows of cells under ``columns``; ``caption`` says what they are."""

    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""


_M_COLUMNS = ["architecture", "params", "macs", "latency_ms", "predicted_latency_ms", "psnr_db", "ssim"]


def comparison_table(run: Run) -> Table:
    """Baseline vs found: the ``M`` entries of summary.json, plus the measured speed-up and PSNR change."""
    rows = [[name, *(run.summary[name].get(c) for c in _M_COLUMNS)] for name in NAMES]
    try:
        caption = format_summary(run.summary).splitlines()[-1]
    except (KeyError, TypeError, ZeroDivisionError):
        caption = "speed-up not computable from summary.json"
    return Table(["", *_M_COLUMNS], rows, caption)


def front_table(run: Run) -> Table:
    front = run.summary.get("pareto_front")
    if not front:
        raise Omitted("summary.json has no pareto_front (the engine has none)")
    columns = list(dict.fromkeys(k for row in front for k in row))
    quality = run.summary.get("settings", {}).get("pareto_front_quality", "")
    return Table(columns, [[row.get(c) for c in columns] for row in front], quality)


def settings_table(run: Run) -> Table:
    """summary.json's ``settings``, flattened to dotted keys."""
    rows: list[list[Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            rows.append([prefix, value])

    settings = run.summary.get("settings") or {}
    if not isinstance(settings, dict) or not settings:
        raise Omitted("summary.json has no settings")
    walk("", settings)
    return Table(["setting", "value"], rows, "as recorded in summary.json")


__all__ = [
    "AlphaHeatmap",
    "HypervolumeHistory",
    "LatencyBreakdown",
    "Omitted",
    "ParetoPlot",
    "SaliencyBars",
    "Table",
    "alpha_heatmap",
    "comparison_table",
    "front_table",
    "hypervolume_history",
    "latency_breakdown",
    "pareto_plot",
    "saliency_bars",
    "settings_table",
]
