"""The report renders in a real browser: headless Chromium loads every embedded image.

A copy of the report gets a small script that, on ``load``, writes each ``<img>``'s
``complete && naturalWidth > 0`` into the DOM; ``chromium --dump-dom`` prints the DOM after the page
loaded. Skipped only when no Chromium is installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nasbench.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium; .ci/run does it)"
)
CHECK = """<script>
window.addEventListener('load', () => {
  const out = document.createElement('pre');
  out.id = 'image-check';
  out.textContent = JSON.stringify([...document.images].map(i => [i.alt, i.complete && i.naturalWidth > 0]));
  document.body.appendChild(out);
});
</script></body>"""


def loaded_images(page: Path, tmp_path: Path) -> list[list]:
    """[[alt, loaded], ...] for every <img> of ``page`` as headless Chromium sees it."""
    probe = tmp_path / f"probe_{page.name}"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", CHECK), encoding="utf-8")
    run = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            probe.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    match = re.search(r'<pre id="image-check">(.*?)</pre>', run.stdout, re.S)
    assert match, f"Chromium printed no image check (exit {run.returncode}): {run.stderr[-500:]}"
    return json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.mark.slow  # builds the tiny MOBO run
def test_every_image_of_a_mobo_report_loads(mobo_run: Path, tmp_path: Path) -> None:
    report = write_report(mobo_run, tmp_path / "mobo.html")
    images = loaded_images(report.path, tmp_path)
    assert [alt for alt, _ in images] == ["pareto front", "hypervolume", "latency breakdown", "saliency"]
    assert all(ok for _, ok in images), images


def test_every_image_of_a_darts_report_loads(darts_run: Path, tmp_path: Path) -> None:
    report = write_report(darts_run, tmp_path / "darts.html")
    images = loaded_images(report.path, tmp_path)
    assert [alt for alt, _ in images] == ["alpha", "latency breakdown"] and all(ok for _, ok in images), images


def test_the_check_sees_a_broken_image(darts_run: Path, tmp_path: Path) -> None:
    report = write_report(darts_run, tmp_path / "darts.html")
    broken = tmp_path / "broken.html"
    text = report.path.read_text(encoding="utf-8")
    broken.write_text(re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,iVBORw0KGgoAAAA", text, count=1), encoding="utf-8")
    assert [ok for _, ok in loaded_images(broken, tmp_path)] == [False, True]
