"""Shared helpers of the benchmark scripts: machine facts and rewriting one section of docs/benchmarks.md.

Each benchmark owns a section between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` markers and
rewrites only that section, with the command that produced it and the machine it ran on.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# NASBENCH_BENCH_DOC redirects every section to another file (run_all.py --quick uses a scratch copy).
DOC = Path(os.environ.get("NASBENCH_BENCH_DOC") or ROOT / "docs" / "benchmarks.md")
# Pictures the sections link as ``img/NAME.png`` live next to the document (so --quick leaves docs/img alone).
IMG = DOC.parent / "img"
HEADER = """# Benchmarks

Every figure below was measured on this project's machine by the script named in its section, which also
rewrote the section. Timings are onnxruntime on the CPU unless a section says otherwise; the machine is
shared, so comparisons are ratios measured in the same run, interleaved, with medians over repeats.
`python benchmarks/run_all.py` regenerates everything.
"""


def machine() -> str:
    import onnxruntime
    import torch

    from nasbench.latency import device_name

    return (
        f"{device_name()}, Python {platform.python_version()}, torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}"
    )


def command() -> str:
    args = " ".join(sys.argv[1:])
    script = os.path.relpath(sys.argv[0], ROOT)
    return f"python {script}{' ' + args if args else ''}"


def write_section(name: str, title: str, body: str) -> None:
    """Replace (or append) the section ``name`` of docs/benchmarks.md."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else HEADER
    block = (
        f"<!-- bench:{name} -->\n## {title}\n\n"
        f"Command: `{command()}`  \nMachine: {machine()}\n\n{body.strip()}\n<!-- /bench:{name} -->"
    )
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote section '{name}' of {os.path.relpath(DOC, ROOT)}")


def table(rows: list[dict[str, object]]) -> str:
    """A Markdown table from dicts with the same keys."""
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)
