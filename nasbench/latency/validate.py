"""How far is the sum of parts from the whole? Predicted vs measured latency of random architectures.

Reports Kendall τ (ranking), mean absolute percentage error and the share within ±10 % (nn-Meter's
metric) for the latency table, and Kendall τ for MACs as a proxy, with a table and a scatter plot. When
the table carries a correction (:mod:`nasbench.latency.correction`) the same metrics are reported for the
plain sum of parts (``plain_*``) and for the corrected prediction, on the same measured networks; the
random sample never contains an architecture the correction was fitted on.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from nasbench.cost import count_macs, count_params
from nasbench.deploy.onnx import export_onnx
from nasbench.latency.runtime import Protocol, Stats, TimedSession, time_interleaved
from nasbench.latency.table import LatencyTable
from nasbench.space import Architecture, SearchSpace


@dataclass
class ValidationReport:
    """Per-architecture predicted and measured latencies (ms) and summary metrics."""

    rows: list[dict[str, Any]]
    metrics: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]], settings: dict[str, Any]) -> ValidationReport:
        return cls(rows, summarize(rows), settings)

    def to_frame(self):  # noqa: ANN201 (pandas is imported lazily)
        import pandas as pd

        return pd.DataFrame(self.rows)

    def plot(self, path: str | Path) -> Path:
        """Scatter of predicted vs measured latency (and MACs vs measured), saved as PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        measured = np.array([r["measured_ms"] for r in self.rows])
        predicted = np.array([r["predicted_ms"] for r in self.rows])
        plain = np.array([r.get("predicted_plain_ms", r["predicted_ms"]) for r in self.rows])
        macs = np.array([r["macs"] for r in self.rows]) / 1e9
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.5))
        values = np.concatenate([measured, predicted, plain])
        lo, hi = values.min() * 0.95, values.max() * 1.05
        ax1.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="0.9", label="±10 %")
        ax1.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        m = self.metrics
        if self.corrected:
            ax1.scatter(
                measured, plain, s=14, color="0.55", marker="x", label=f"plain sum: τ={m['plain_kendall_tau']:.3f}"
            )
        ax1.scatter(measured, predicted, s=18, label="corrected" if self.corrected else "LUT")
        ax1.set(xlabel="measured latency (ms)", ylabel="predicted latency (ms)", xlim=(lo, hi), ylim=(lo, hi))
        name = "corrected LUT" if self.corrected else "LUT"
        ax1.set_title(f"{name}: τ={m['kendall_tau']:.3f}, MAPE={m['mape_pct']:.1f} %, ±10 %: {m['within_10pct']:.0f} %")
        ax1.legend(loc="upper left")
        ax2.scatter(measured, macs, s=18, color="tab:orange")
        ax2.set(xlabel="measured latency (ms)", ylabel="GMACs")
        ax2.set_title(f"MACs as a proxy: τ={m['macs_kendall_tau']:.3f}")
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path

    def save(self, directory: str | Path) -> Path:
        """Write ``validation.csv``, ``validation.json`` (metrics, settings) and ``validation.png``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.to_frame().to_csv(directory / "validation.csv", index=False)
        (directory / "validation.json").write_text(
            json.dumps({"metrics": self.metrics, "settings": self.settings}, indent=2), encoding="utf-8"
        )
        self.plot(directory / "validation.png")
        return directory

    @property
    def corrected(self) -> bool:
        """Whether the predictions include a table correction (then ``plain_*`` metrics are the plain sum's)."""
        return bool(self.settings.get("corrected"))

    def __str__(self) -> str:
        m = self.metrics
        text = (
            f"{int(m['n'])} architectures: Kendall τ {m['kendall_tau']:.3f}, MAPE {m['mape_pct']:.2f} %, "
            f"within ±10 %: {m['within_10pct']:.1f} %; MACs as proxy: τ {m['macs_kendall_tau']:.3f}"
        )
        if self.corrected:
            text += (
                f"; plain sum of parts: τ {m['plain_kendall_tau']:.3f}, MAPE {m['plain_mape_pct']:.2f} %, "
                f"within ±10 %: {m['plain_within_10pct']:.1f} %"
            )
        return text


def agreement(predicted: Sequence[float], measured: Sequence[float]) -> dict[str, float]:
    """Kendall τ, MAPE (%) and share within ±10 % (%) of ``predicted`` against ``measured`` (ms)."""
    from scipy.stats import kendalltau

    p, m = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    error = np.abs(p - m) / m
    return {
        "kendall_tau": float(kendalltau(p, m).statistic) if len(m) > 1 else float("nan"),
        "mape_pct": float(error.mean() * 100),
        "within_10pct": float((error <= 0.10).mean() * 100),
    }


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Kendall τ, MAPE (%), share within ±10 % (%) of predicted vs measured; τ of MACs vs measured; the
    same three for the plain sum (``plain_*``) when the rows have ``predicted_plain_ms``."""
    measured = [r["measured_ms"] for r in rows]
    metrics = {"n": float(len(rows)), **agreement([r["predicted_ms"] for r in rows], measured)}
    metrics["macs_kendall_tau"] = agreement([r["macs"] for r in rows], measured)["kendall_tau"]
    if rows and all("predicted_plain_ms" in r for r in rows):
        plain = agreement([r["predicted_plain_ms"] for r in rows], measured)
        metrics.update({f"plain_{k}": v for k, v in plain.items()})
    return metrics


def timing_protocol(table: LatencyTable, protocol: Protocol | None = None, **overrides: Any) -> Protocol:
    """How to time networks end to end against ``table``: ``protocol``, else the one the table was measured
    with, with ``overrides`` (Protocol fields) applied."""
    base = protocol or Protocol(**table.metadata.get("protocol", {}))
    return Protocol(**{**base.to_dict(), **overrides})


def validate(
    space: SearchSpace,
    table: LatencyTable,
    n: int = 30,
    input_size: Sequence[int] | None = None,
    *,
    seed: int = 0,
    architectures: Sequence[Architecture] | None = None,
    protocol: Protocol | None = None,
    progress: bool = True,
    repeats: int = 1,
    **protocol_overrides: Any,
) -> ValidationReport:
    """Measure ``n`` random architectures of ``space`` end to end and compare with ``table.predict``.

    The end-to-end timings use the table's protocol (threads, optimisation level) unless ``protocol``
    is given; all networks are timed interleaved. ``architectures`` replaces the random sample; the
    random sample skips the architectures the table's correction was fitted on. With ``repeats=2`` the
    whole interleaved measurement runs twice and the report adds how well the two passes agree with each
    other (:func:`repeatability`) — the ceiling any latency predictor can reach against these
    measurements. Rows carry ``predicted_ms`` (``table.predict``) and ``predicted_plain_ms`` (the plain
    sum of parts); the metrics of the latter are prefixed ``plain_``.
    """
    protocol = timing_protocol(table, protocol, **protocol_overrides)
    h, w = table.resolve_size(input_size)
    exclude = table.correction.architectures() if table.correction is not None else []
    archs = list(architectures) if architectures is not None else distinct_random(space, n, seed, exclude)
    # priced first: a missing entry fails before any export or timing
    predicted = [
        {
            "predicted_ms": table.predict(space, a, (h, w)),
            "predicted_plain_ms": table.predict(space, a, (h, w), corrected=False),
        }
        for a in archs
    ]
    rows = measure_architectures(space, archs, (h, w), protocol, repeats, progress)
    for row, prediction in zip(rows, predicted):
        row.update(prediction)
    corrected = table.correction is not None and table.correction.applies(space.name, (h, w))
    settings = {
        "space": space.name,
        "input_size": [h, w],
        "n": len(archs),
        "seed": seed,
        "repeats": repeats,
        "protocol": protocol.to_dict(),
        "corrected": corrected,
    }
    report = ValidationReport.from_rows(rows, settings)
    if repeats > 1:
        report.metrics.update(repeatability(rows))
    return report


def measure_architectures(
    space: SearchSpace,
    archs: Sequence[Architecture],
    size: tuple[int, int],
    protocol: Protocol,
    repeats: int = 1,
    progress: bool = True,
    desc: str = "validate",
) -> list[dict[str, Any]]:
    """Export ``archs`` at ``size`` (H, W) and time them together, interleaved, ``repeats`` times.

    One row per architecture: ``architecture``, ``macs``, ``params``, ``measured_ms`` (median over every
    timed run), ``measured_p10_ms``, ``measured_p90_ms`` and ``measured_pass{k}_ms`` (each pass's median).
    """
    shape = (1, space.backbone_config.in_channels, *size)
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nasbench-validate-")))
        bar = stack.enter_context(
            tqdm(total=len(archs) * (1 + repeats * protocol.rounds), desc=desc, unit="step", disable=not progress)
        )
        sessions = {}
        for i, arch in enumerate(archs):
            model = space.build(arch).eval()
            rows.append({"architecture": str(arch), "macs": count_macs(model, shape), "params": count_params(model)})
            sessions[str(i)] = TimedSession(
                export_onnx(model, tmp / f"{i}.onnx", shape, opset=protocol.opset), protocol
            )
            bar.update(1)
        passes = [time_interleaved(sessions, protocol, progress=bar) for _ in range(repeats)]
    for i, row in enumerate(rows):
        stats = Stats.of([t for p in passes for t in p[str(i)]])
        row.update(measured_ms=stats.median_ms, measured_p10_ms=stats.p10_ms, measured_p90_ms=stats.p90_ms)
        for k, p in enumerate(passes):
            row[f"measured_pass{k + 1}_ms"] = Stats.of(p[str(i)]).median_ms
    return rows


def repeatability(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """How well two independent end-to-end passes agree: the noise ceiling for any predictor.

    Kendall τ between the pass-1 and pass-2 medians, the share of architectures whose two passes are
    within ±10 % of each other, and their mean absolute percentage difference.
    """
    from scipy.stats import kendalltau

    a = np.array([r["measured_pass1_ms"] for r in rows], dtype=float)
    b = np.array([r["measured_pass2_ms"] for r in rows], dtype=float)
    diff = np.abs(a - b) / b
    return {
        "repeat_kendall_tau": float(kendalltau(a, b).statistic),
        "repeat_within_10pct": float((diff <= 0.10).mean() * 100),
        "repeat_mape_pct": float(diff.mean() * 100),
    }


def distinct_random(space: SearchSpace, n: int, seed: int, exclude: Sequence[str] = ()) -> list[Architecture]:
    """``n`` distinct random architectures of ``space`` (fewer if the space is smaller), none of whose
    compact strings is in ``exclude``; the same seed gives the same sample."""
    archs: list[Architecture] = []
    skip = set(exclude)
    attempt = 0
    while len(archs) < min(n, space.size - len(skip)) and attempt < 100 * n:
        arch = space.random(seed * 100_003 + attempt)
        attempt += 1
        if arch not in archs and str(arch) not in skip:
            archs.append(arch)
    return archs
