"""Report figures: each renders one data object of :mod:`nasbench.report.data` to PNG bytes
(matplotlib, Agg backend — no display needed)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from nasbench.report.data import NAMES, AlphaHeatmap, HypervolumeHistory, LatencyBreakdown, ParetoPlot, SaliencyBars
from nasbench.search.plots import _pyplot
from nasbench.search.saliency import plot_saliency

DPI = 100


def _png(fig: Any) -> bytes:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def alpha_figure(data: AlphaHeatmap) -> bytes:
    """Heatmap positions × candidates of the final probabilities; the derived choice is outlined."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.3 * len(data.labels) + 2.5, 0.38 * len(data.positions) + 1.6))
    image = ax.imshow(np.ma.masked_invalid(data.probabilities), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for row, label in enumerate(data.chosen):
        col = data.labels.index(label)
        ax.add_patch(plt.Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, ec="red", lw=2))
        for c, value in enumerate(data.probabilities[row]):
            if np.isfinite(value):
                ax.text(c, row, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w" if value < 0.6 else "k")
    ax.set_xticks(range(len(data.labels)), data.labels, rotation=30, ha="right")
    ax.set_yticks(range(len(data.positions)), data.positions)
    ax.set_title(f"softmax(α/T) after step {data.step}; red = derived architecture", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04)
    return _png(fig)


def pareto_figure(data: ParetoPlot) -> bytes:
    """Every evaluation, the Pareto front, the baseline, the knee and the trained (selected) point."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.scatter(data.x, data.y, s=14, c="0.7", label="evaluated")
    order = np.argsort(data.x[data.on_front])
    ax.plot(data.x[data.on_front][order], data.y[data.on_front][order], "o-", c="C0", ms=5, label="Pareto front")
    marks = ((data.baseline, "s", 70, "k", "baseline"), (data.knee, "*", 240, "C3", "knee"))
    for mask, marker, size, colour, label in marks:
        if mask.any():
            ax.scatter(data.x[mask], data.y[mask], marker=marker, s=size, c=colour, label=label, zorder=3)
    if data.selected.any() and not (data.selected == data.knee).all():
        ax.scatter(data.x[data.selected], data.y[data.selected], marker="D", s=60, facecolors="none",
                   edgecolors="C2", lw=2, label="selected (trained)", zorder=4)
    ax.set(xlabel=data.names[0], ylabel=data.names[1], title=f"{len(data.x)} evaluations")
    ax.legend(fontsize=8)
    return _png(fig)


def hypervolume_figure(data: HypervolumeHistory) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.plot(data.evaluation, data.hypervolume, c="C0", marker=".")
    ax.set(xlabel="complete evaluations", ylabel="hypervolume", title="dominated hypervolume so far")
    return _png(fig)


def latency_figure(data: LatencyBreakdown) -> bytes:
    """Stacked predicted ms per part for baseline and found, with the measured totals beside them."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.0, 5.0))
    cmap = plt.get_cmap("tab20")
    x = np.arange(len(NAMES))
    for name_index, name in enumerate(NAMES):
        bottom = 0.0
        for part_index, (part, ms) in enumerate(zip(data.parts, data.predicted[name])):
            label = part if name_index == 0 else None
            colour = cmap(part_index % 20)
            ax.bar(x[name_index] - 0.18, ms, 0.34, bottom=bottom, color=colour, label=label, ec="w", lw=0.4)
            block = data.blocks[name][part_index]
            if ms > 0.04 * max(data.predicted_total(n) for n in NAMES) and block:
                ax.text(x[name_index] - 0.18, bottom + ms / 2, block, ha="center", va="center", fontsize=6)
            bottom += ms
        measured = data.measured[name]
        if measured is not None:
            label = "measured (onnxruntime)" if name_index == 0 else None
            ax.bar(x[name_index] + 0.18, measured, 0.3, color="0.35", label=label)
            ax.text(x[name_index] + 0.18, measured, f"{measured:.1f}", ha="center", va="bottom", fontsize=8)
        ax.text(x[name_index] - 0.18, bottom, f"{bottom:.1f}", ha="center", va="bottom", fontsize=8)
    size = "×".join(map(str, data.input_size)) if data.input_size else "the table's size"
    ax.set_xticks(x, [f"{n}\npredicted | measured" for n in NAMES])
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"latency per part at {size} px: table prediction (stacked), measured total", fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _png(fig)


def saliency_figure(data: SaliencyBars) -> bytes:
    """The saliency bar charts of :func:`~nasbench.search.saliency.plot_saliency`, as PNG bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = plot_saliency(data.scores, Path(tmp) / "saliency.png", protected=data.protected)
        return path.read_bytes()
