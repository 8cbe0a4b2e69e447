"""The report page: a registry of sections (collect data → render HTML) and the self-contained HTML file.

Every figure is embedded as a base64 PNG ``data:`` URI, so the file needs nothing beside it. A section
whose data cannot be collected for this run is replaced by a one-line note saying why.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nasbench
from nasbench.report import data as d
from nasbench.report import figures as f
from nasbench.report.run import Run, load_run

REPORT_NAME = "report.html"


@dataclass(frozen=True)
class Section:
    """One report section: ``collect(run)`` gives its data object (or raises :class:`Omitted`),
    ``render(data)`` its HTML."""

    key: str
    title: str
    collect: Callable[[Run], Any]
    render: Callable[[Any], str]


SECTIONS: list[Section] = []


def register_section(key: str, title: str, collect: Callable[[Run], Any], render: Callable[[Any], str]) -> None:
    """Append a section (shown in registration order); a key registered again replaces the old one."""
    SECTIONS[:] = [s for s in SECTIONS if s.key != key]
    SECTIONS.append(Section(key, title, collect, render))


def image(png: bytes, alt: str) -> str:
    """An ``<img>`` tag embedding ``png`` as a data URI."""
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def _cell(value: Any) -> str:
    if isinstance(value, float):
        text = "–" if math.isnan(value) else f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    elif isinstance(value, list | dict):
        text = json.dumps(value, default=str)
    else:
        text = "–" if value is None else str(value)
    return html.escape(text)


def table(data: d.Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in data.columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in data.rows)
    caption = f"<caption>{html.escape(data.caption)}</caption>" if data.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _latency(data: d.LatencyBreakdown) -> str:
    rows = [
        [part, *(x for name in d.NAMES for x in (data.blocks[name][i] or "–", data.predicted[name][i]))]
        for i, part in enumerate(data.parts)
    ]
    rows.append(["total predicted", "", data.predicted_total("baseline"), "", data.predicted_total("found")])
    rows.append(["measured end to end", "", data.measured["baseline"], "", data.measured["found"]])
    columns = ["part", "baseline block", "baseline ms", "found block", "found ms"]
    return image(f.latency_figure(data), "latency breakdown") + table(
        d.Table(columns, rows, "predicted from latency_table.yaml; measured: onnxruntime medians from summary.json")
    )


register_section("comparison", "Baseline vs found", d.comparison_table, table)
register_section("alpha", "Architecture weights (DARTS)", d.alpha_heatmap, lambda x: image(f.alpha_figure(x), "alpha"))
register_section("pareto", "Pareto front (MOBO)", d.pareto_plot, lambda x: image(f.pareto_figure(x), "pareto front"))
register_section(
    "hypervolume", "Hypervolume history", d.hypervolume_history, lambda x: image(f.hypervolume_figure(x), "hypervolume")
)
register_section("latency", "Latency per position", d.latency_breakdown, _latency)
register_section(
    "saliency", "Saliency per position", d.saliency_bars, lambda x: image(f.saliency_figure(x), "saliency")
)
register_section("front", "Pareto-front networks", d.front_table, table)
register_section("settings", "Settings", d.settings_table, table)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}td,th{border:1px solid #ddd;padding:.2em .5em;
text-align:left;vertical-align:top}th{background:#f3f3f3}caption{caption-side:bottom;text-align:left;color:#555;
padding-top:.3em}img{max-width:100%;display:block;margin:.5em 0}.omitted{color:#8a6d3b;font-style:italic}
code{background:#f4f4f4;padding:0 .2em}
"""


@dataclass
class Report:
    """A written report: its file, the sections shown and those omitted (key → reason)."""

    path: Path
    sections: list[str]
    omitted: dict[str, str]


def render_report(run: Run) -> tuple[str, list[str], dict[str, str]]:
    """The HTML page of ``run``, the keys of the sections shown and the omitted ones with their reason."""
    shown: list[str] = []
    omitted: dict[str, str] = {}
    parts = []
    for section in SECTIONS:
        try:
            body = section.render(section.collect(run))
            shown.append(section.key)
        except d.Omitted as exc:
            omitted[section.key] = str(exc)
            body = f'<p class="omitted">omitted: {html.escape(str(exc))}</p>'
        parts.append(f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2>{body}</section>')
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    space = run.space.name if run.space is not None else "unknown space"
    title = f"nasbench run: {run.directory.name}"
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>engine <code>{html.escape(str(run.engine))}</code>, space <code>{html.escape(space)}</code>, "
        f"directory <code>{html.escape(str(run.directory))}</code>; written {stamp} by nasbench "
        f"{html.escape(nasbench.__version__)}.</p>{''.join(parts)}</body></html>\n"
    )
    return page, shown, omitted


def write_report(run_dir: str | Path, output: str | Path | None = None) -> Report:
    """Write the report of ``run_dir`` to ``output`` (default ``run_dir/report.html``).

    Raises :class:`~nasbench.errors.NasbenchError` when ``run_dir`` holds no readable summary.json."""
    run = load_run(run_dir)
    page, shown, omitted = render_report(run)
    path = Path(output) if output is not None else run.directory / REPORT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return Report(path, shown, omitted)
