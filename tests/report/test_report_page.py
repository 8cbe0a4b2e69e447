"""The report file: self-contained HTML with one decodable PNG per figure; one-line errors."""

from __future__ import annotations

import base64
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nasbench.errors import NasbenchError
from nasbench.report import write_report

PNG = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.sections: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(a)
        if tag == "section":
            self.sections.append(a["id"])
        for key in ("src", "href"):
            if key in a and not a[key].startswith("data:"):
                self.external.append(a[key])


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _decoded(img: dict[str, str]) -> bytes:
    prefix = "data:image/png;base64,"
    assert img["src"].startswith(prefix)
    return base64.b64decode(img["src"][len(prefix) :], validate=True)


@pytest.mark.parametrize(
    ("fixture", "figures", "omitted"),
    [
        ("darts_run", {"alpha", "latency breakdown"}, {"pareto", "hypervolume", "saliency", "front"}),
        pytest.param(
            "mobo_run",
            {"pareto front", "hypervolume", "latency breakdown", "saliency"},
            {"alpha"},
            marks=pytest.mark.slow,
        ),
    ],
)
def test_report_is_self_contained(fixture: str, figures: set[str], omitted: set[str], request) -> None:
    run_dir = request.getfixturevalue(fixture)
    report = write_report(run_dir)
    assert report.path == run_dir / "report.html"
    assert set(report.omitted) == omitted
    page = parse(report.path)
    assert page.external == []  # nothing outside the file
    assert {img["alt"] for img in page.images} == figures
    for img in page.images:
        png = _decoded(img)
        assert png.startswith(PNG) and len(png) > 2000
    assert page.sections == ["comparison", "alpha", "pareto", "hypervolume", "latency", "saliency", "front", "settings"]
    text = report.path.read_text(encoding="utf-8")
    for key in omitted:
        assert re.search(rf'<section id="{key}"><h2>[^<]*</h2><p class="omitted">omitted: ', text)


def test_report_without_summary_is_refused(darts_run: Path, tmp_path: Path) -> None:
    with pytest.raises(NasbenchError, match=r"no summary.json — not a finished run"):
        write_report(tmp_path)
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(NasbenchError, match=r"summary.json: not valid JSON \(line 1"):
        write_report(tmp_path)


def test_report_with_only_a_summary(darts_run: Path, tmp_path: Path) -> None:
    shutil.copy(darts_run / "summary.json", tmp_path / "summary.json")
    report = write_report(tmp_path, tmp_path / "out" / "r.html")
    assert report.sections == ["comparison", "settings"]
    assert parse(report.path).images == []
