"""benchmarks/run_all.py: the plan covers every benchmark script, and the summary finds each stated target."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def run_all(load_benchmark) -> ModuleType:
    return load_benchmark("run_all")


def test_plan_runs_every_script_in_benchmarks(run_all) -> None:
    planned = [b.script for b, _ in run_all.plan(None)]
    scripts = {p.name for p in BENCHMARKS.glob("*.py")} - set(run_all.HELPERS)
    assert sorted(planned) == sorted(scripts)
    assert len(planned) == len(set(planned))
    listed = {b.script for b in run_all.BENCHMARKS}
    assert listed <= scripts, f"listed but missing: {sorted(listed - scripts)}"


def test_plan_only_refuses_unknown_scripts(run_all) -> None:
    assert [b.script for b, _ in run_all.plan(["supernet.py"])] == ["supernet.py"]
    with pytest.raises(SystemExit, match="unknown benchmark.*nope.py"):
        run_all.plan(["nope.py"])


DOC = """# Benchmarks

<!-- bench:alpha -->
## Alpha

Command: `python benchmarks/alpha.py --target x`
Machine: box, 2026-01-02 03:04 UTC

| configuration | ms | target |
|---|---|---|
| a | 1.0 | ≤ 2 |
| b | 3.0 | — |

| other | ms |
|---|---|
| c | 9.0 |

**Speed-up 2.4× (target ≥ 2×)**; more prose.

Targets (issue "A"):

- HV above the others: **met**.
- proposal ≤ 1 s: **not met**.

Unrelated closing line.
- a bullet after the list ended
<!-- /bench:alpha -->

<!-- bench:beta -->
## Beta
No goals here.
<!-- /bench:beta -->
"""


def test_sections_and_target_lines(run_all) -> None:
    found = run_all.sections(DOC)
    assert set(found) == {"alpha", "beta"}
    assert run_all.target_lines(found["alpha"]) == [
        "| configuration | ms | target |",
        "| a | 1.0 | ≤ 2 |",
        "| b | 3.0 | — |",
        "**Speed-up 2.4× (target ≥ 2×)**; more prose.",
        'Targets (issue "A"):',
        "- HV above the others: **met**.",
        "- proposal ≤ 1 s: **not met**.",
    ]
    assert run_all.target_lines(found["beta"]) == []


def test_summary_marks_rewritten_and_older_sections(run_all, tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC, encoding="utf-8")
    bench = run_all.Benchmark("alpha.py", (), None, ("alpha", "beta"))
    before = run_all.sections(DOC)
    before["alpha"] = "an older body"
    text = run_all.summary(doc, [(bench, True)], before, {"alpha.py": "ok in 3 s"})
    assert "== alpha.py: ok in 3 s" in text
    assert "[alpha] rewritten by this run, measured 2026-01-02 03:04 UTC" in text
    assert "[beta] older, measured ?" in text
    assert "(states no target)" in text


def test_pictures_follow_the_document(load_benchmark, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--quick sends sections to a scratch copy; the pictures they link (img/NAME.png) must go with it, or a
    smoke run overwrites docs/img."""
    monkeypatch.setenv("NASBENCH_BENCH_DOC", str(tmp_path / "scratch" / "benchmarks.md"))
    report = load_benchmark("report")
    assert report.IMG == tmp_path / "scratch" / "img"
    monkeypatch.delenv("NASBENCH_BENCH_DOC")
    report = load_benchmark("report")
    assert report.IMG == BENCHMARKS.parent / "docs" / "img"
    assert "IMG /" in (BENCHMARKS / "latency_tables.py").read_text(encoding="utf-8")
    hard_coded = [p.name for p in BENCHMARKS.glob("*.py") if '"docs" / "img"' in p.read_text(encoding="utf-8")]
    assert hard_coded == [], f"write pictures to report.IMG, not docs/img: {hard_coded}"
