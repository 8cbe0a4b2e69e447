"""Plots of search results, as PNG files (matplotlib, headless).

Each engine registers a plotter; ``SearchResult.save`` calls :func:`plot_result`. Plots first gather
plain arrays from the history, then render, so the data behind a figure can be tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nasbench.search.result import SearchResult

Plotter = Callable[["SearchResult", Path], list[Path]]
_PLOTTERS: dict[str, Plotter] = {}


def register_plotter(engine: str) -> Callable[[Plotter], Plotter]:
    def decorate(fn: Plotter) -> Plotter:
        _PLOTTERS[engine] = fn
        return fn

    return decorate


def plot_result(result: SearchResult, directory: Path) -> list[Path]:
    """Write the engine's plots into ``directory``; returns the files written."""
    plotter = _PLOTTERS.get(result.engine)
    return plotter(result, directory) if plotter and result.history else []


def _pyplot():  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def darts_series(result: SearchResult) -> dict[str, np.ndarray]:
    """Arrays behind the DARTS plots: steps, probabilities per position (steps × K), entropies, latency."""
    h = result.history
    series: dict[str, np.ndarray] = {
        "step": np.array([r["step"] for r in h]),
        "predicted_latency_ms": np.array([r["predicted_latency_ms"] for r in h], dtype=float),
        "derived_latency_ms": np.array([r["derived_latency_ms"] for r in h], dtype=float),
        "mean_entropy": np.array([r["mean_entropy"] for r in h], dtype=float),
    }
    for p in result.space.searchable_positions:
        series[f"p/{p.name}"] = np.array([[r[f"p/{p.name}/{lab}"] for lab in p.labels] for r in h], dtype=float)
        series[f"entropy/{p.name}"] = np.array([r[f"entropy/{p.name}"] for r in h], dtype=float)
    return series


@register_plotter("darts")
def plot_darts(result: SearchResult, directory: Path) -> list[Path]:
    plt = _pyplot()
    s = darts_series(result)
    positions = result.space.searchable_positions
    written = []

    cols = 6
    rows = max(1, int(np.ceil(len(positions) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 1.9 * rows), sharex=True, sharey=True, squeeze=False)
    for ax, p in zip(axes.flat, positions):
        ax.stackplot(s["step"], s[f"p/{p.name}"].T, labels=p.labels)
        ax.set_title(f"{p.name} → {result.architecture[p.name]}", fontsize=8)
        ax.set_ylim(0, 1)
    for ax in list(axes.flat)[len(positions) :]:
        ax.axis("off")
    if positions:
        axes.flat[0].legend(fontsize=6, loc="lower left")
    fig.suptitle("candidate probabilities softmax(α/T) per position over steps")
    fig.tight_layout()
    written.append(directory / "alpha.png")
    fig.savefig(written[-1], dpi=90)
    plt.close(fig)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for p in positions:
        ax1.plot(s["step"], s[f"entropy/{p.name}"], lw=0.6, alpha=0.5)
    ax1.plot(s["step"], s["mean_entropy"], "k", lw=2, label="mean")
    ax1.set(xlabel="step", ylabel="normalised entropy H/log K", title="decisiveness per position", ylim=(0, 1.02))
    ax1.legend()
    ax2.plot(s["step"], s["predicted_latency_ms"], label="expected under softmax(α)")
    ax2.plot(s["step"], s["derived_latency_ms"], label="argmax architecture")
    ax2.axhline(result.settings.get("baseline_predicted_ms", np.nan), color="k", ls="--", lw=0.8, label="baseline")
    ax2.set(xlabel="step", ylabel="predicted latency (ms)", title="predicted latency")
    ax2.legend()
    fig.tight_layout()
    written.append(directory / "entropy_latency.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)
    return written


def mobo_series(result: SearchResult) -> dict[str, np.ndarray]:
    """Arrays behind the MOBO plots: the first two objectives of every evaluation, the front, the baseline
    and knee rows, and the hypervolume after each evaluation."""
    names = result.settings.get("objectives") or [k for k in result.history[0] if k not in _MOBO_META][:2]
    h = result.history
    xy = np.array([[r[names[0]], r[names[1]]] for r in h], dtype=float)
    front = {r["trial"] for r in result.pareto_front or []}
    trials = [r["trial"] for r in h]
    return {
        "x": xy[:, 0],
        "y": xy[:, 1],
        "on_front": np.array([t in front for t in trials]),
        "baseline": np.array([r.get("phase") == "baseline" for r in h]),
        "knee": np.array([t == result.settings.get("knee_trial") for t in trials]),
        "evaluation": np.arange(1, len(h) + 1),
        "hypervolume": np.array([r["hypervolume"] for r in h], dtype=float),
        "names": np.array(names[:2]),
    }


_MOBO_META = ("trial", "architecture", "phase", "proposal_s", "feasible", "hypervolume")


@register_plotter("mobo")
def plot_mobo(result: SearchResult, directory: Path) -> list[Path]:
    plt = _pyplot()
    s = mobo_series(result)
    xname, yname = (str(n) for n in s["names"])
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.scatter(s["x"], s["y"], s=14, c="0.7", label="evaluated")
    order = np.argsort(s["x"][s["on_front"]])
    ax.plot(s["x"][s["on_front"]][order], s["y"][s["on_front"]][order], "o-", c="C0", ms=5, label="Pareto front")
    if s["baseline"].any():
        ax.scatter(s["x"][s["baseline"]], s["y"][s["baseline"]], marker="s", s=70, c="k", label="baseline", zorder=3)
    if s["knee"].any():
        ax.scatter(s["x"][s["knee"]], s["y"][s["knee"]], marker="*", s=220, c="C3", label="knee (chosen)", zorder=4)
    ax.set(xlabel=xname, ylabel=yname, title=f"{result.space.name}: {len(s['x'])} evaluations")
    ax.legend()
    fig.tight_layout()
    written = [directory / "pareto.png"]
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    ax.plot(s["evaluation"], s["hypervolume"], c="C0")
    ax.set(xlabel="evaluations", ylabel="hypervolume", title="dominated hypervolume (reference in result.json)")
    fig.tight_layout()
    written.append(directory / "hypervolume.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)
    return written
