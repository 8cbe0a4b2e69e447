"""Run every benchmark in turn, then print each figure next to its target.

    python benchmarks/run_all.py                 # full figures (about 3 hours on 2 shared cores)
    python benchmarks/run_all.py --quick         # smoke sizes, minutes per benchmark; docs/ left alone
    python benchmarks/run_all.py --dry-run       # print the plan (commands, sections) and run nothing
    python benchmarks/run_all.py --only mobo.py peers_darts.py

Benchmarks run one after another, never in parallel: they time things, and this machine has 2 cores. In
full mode each benchmark rewrites its own ``<!-- bench:NAME -->`` section of docs/benchmarks.md. With
``--quick`` the sections go to a scratch copy (``runs/bench_quick/benchmarks.md``, through
``NASBENCH_BENCH_DOC``) so smoke numbers never replace full ones. The summary printed at the end lists,
per section, every line that states a target (sentences and table rows mentioning "target"), and says
whether the section was rewritten by this run or is older (its "Machine:" line carries the date).

The list below is explicit. A script in benchmarks/ that is neither listed nor a helper is still run, with
no arguments, after the listed ones (so a new benchmark, e.g. ens.py, is not forgotten) and reported as
unlisted; add it to ``BENCHMARKS`` with its quick arguments and its sections.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOC = ROOT / "docs" / "benchmarks.md"
QUICK_DOC = ROOT / "runs" / "bench_quick" / "benchmarks.md"
# Scripts in benchmarks/ that are not figures, and why run_all leaves them out.
HELPERS = {
    "run_all.py": "this harness",
    "report.py": "the shared section writer",
    "build_profiles.py": "regenerates the shipped latency tables (a build, not a figure)",
}


@dataclass(frozen=True)
class Benchmark:
    """One script: its arguments in full and quick mode (``None``: skipped in that mode) and the sections
    of docs/benchmarks.md it writes (prefixes; ``latency-`` matches ``latency-nafnet_sidd-256-t1``)."""

    script: str
    full: tuple[str, ...] | None
    quick: tuple[str, ...] | None
    sections: tuple[str, ...]
    note: str = ""


BENCHMARKS = (
    Benchmark("latency_tables.py", (), ("--quick",), ("latency-",), "figure 2"),
    Benchmark("supernet.py", (), ("--quick",), ("supernet",), "figure 4"),
    Benchmark("ddp.py", (), ("--quick",), ("ddp",), "figure 4, DDP 2 processes vs 1 (8 min)"),
    Benchmark("ern_net.py", ("--scale", "tiny"), None, ("ern-tiny",), "figure 1, DARTS recipe (8 min); no quick mode"),
    Benchmark("lite_denoise.py", (), None, ("lite-denoise",), "figure 1, KD recipe (8 min); no quick mode"),
    Benchmark(
        "mobo.py",
        ("--same-budget", "--jobs", "2"),
        ("--quick",),
        ("mobo",),
        "figure 3: every sampler at the same budget, two searches at once (≈ 75 min; the stock BoTorchSampler "
        "takes 109 of the searches' 118 min); --quick prints only",
    ),
    # after mobo.py: it reuses the teacher and surrogates mobo.py trained; --quick prints only
    Benchmark("mobo_proposal.py", (), ("--quick",), ("acquisitions",), "figure 3, acquisitions (10 min)"),
    Benchmark("ssm_vs_restormer.py", (), ("--quick",), ("ssm-vs-restormer",), "ENS block latency"),
    Benchmark("ens.py", (), None, ("ens-tiny",), "figure 1, ENS recipe; no quick mode"),
    Benchmark("peers_darts.py", (), ("--quick",), ("peers-darts",), "figure 6; --quick prints only"),
    Benchmark("payoff_plot.py", (), ("--quick",), ("payoff-plot",), "latency-vs-PSNR scatter (makes 2 runs, 15 min)"),
    # last: it collects the wall times the recipe runs above recorded
    Benchmark("wall_times.py", (), ("--quick",), ("wall-times",), "figure 5"),
)


def plan(selected: list[str] | None) -> list[tuple[Benchmark, bool]]:
    """The benchmarks to run, in order, each with whether it is listed (False: discovered in benchmarks/)."""
    listed = {b.script for b in BENCHMARKS}
    present = {p.name for p in HERE.glob("*.py")}
    extra = sorted(present - listed - set(HELPERS))
    items = [(b, True) for b in BENCHMARKS if b.script in present]
    items += [(Benchmark(name, (), None, (Path(name).stem.replace("_", "-"),), "unlisted"), False) for name in extra]
    if selected:
        unknown = sorted(set(selected) - {b.script for b, _ in items})
        if unknown:
            known = ", ".join(b.script for b, _ in items)
            sys.exit(f"run_all: unknown benchmark(s) {', '.join(unknown)}; known: {known}")
        items = [(b, listed_) for b, listed_ in items if b.script in selected]
    return items


def sections(text: str) -> dict[str, str]:
    """``{name: body}`` of every ``<!-- bench:NAME -->`` section."""
    pattern = re.compile(r"<!-- bench:(?P<name>[^ ]+) -->\n(?P<body>.*?)<!-- /bench:(?P=name) -->", re.S)
    return {m["name"]: m["body"] for m in pattern.finditer(text)}


def target_lines(body: str, width: int = 220) -> list[str]:
    """Lines of a section that state a target, shortened to ``width``: sentences and bullets mentioning it,
    the bullets of a list introduced by such a line ending in ':', and every row of a table whose header
    mentions it."""
    out: list[str] = []
    in_table = in_list = False
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith("|"):
            in_table = in_table or "target" in stripped.lower()
            if in_table and not set(stripped) <= set("|-: "):
                out.append(stripped)
            continue
        in_table = False
        mentions = "target" in stripped.lower() and not stripped.startswith(("Command:", "Machine:"))
        if mentions or (in_list and stripped.startswith("- ")):
            out.append(stripped)
        if stripped and not stripped.startswith("- "):
            in_list = mentions and stripped.endswith(":")
    return [s if len(s) <= width else s[: width - 1] + "…" for s in out]


def summary(
    doc: Path, benchmarks: list[tuple[Benchmark, bool]], before: dict[str, str] | None, status: dict[str, str]
) -> str:
    """Per benchmark: its status, then per section its date, whether this run rewrote it (when ``before``
    is given) and its target lines."""
    now = sections(doc.read_text(encoding="utf-8")) if doc.exists() else {}
    out = []
    for bench, _ in benchmarks:
        names = [n for n in now if any(n.startswith(prefix) for prefix in bench.sections)]
        out.append(f"== {bench.script}: {status.get(bench.script, 'not run')}")
        if not names:
            out.append("   (no section in the document)")
        for name in names:
            machine = re.search(r"Machine: .*?(\d{4}-\d\d-\d\d \d\d:\d\d UTC)", now[name])
            rewritten = before is not None and before.get(name) != now[name]
            fresh = "" if before is None else ("rewritten by this run, " if rewritten else "older, ")
            out.append(f"   [{name}] {fresh}measured {machine[1] if machine else '?'}")
            found = target_lines(now[name])
            out += [f"     {line}" for line in found] or ["     (states no target)"]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke sizes; writes a scratch copy of the doc")
    parser.add_argument("--dry-run", action="store_true", help="print the plan only")
    parser.add_argument("--only", nargs="+", metavar="SCRIPT", help="run these scripts only")
    parser.add_argument("--summary", action="store_true", help="print the targets summary of the doc and exit")
    args = parser.parse_args()
    benchmarks = plan(args.only)
    doc = QUICK_DOC if args.quick else DOC
    if args.summary:
        print(summary(DOC, benchmarks, None, {}))
        return
    env = dict(os.environ)
    if args.quick:
        env["NASBENCH_BENCH_DOC"] = str(QUICK_DOC)
    print(f"document: {doc.relative_to(ROOT)}")
    for bench, _listed in benchmarks:
        extra = bench.quick if args.quick else bench.full
        cmd = "skipped in this mode" if extra is None else " ".join(["python", f"benchmarks/{bench.script}", *extra])
        print(f"  {bench.script:22} {cmd:60} sections {', '.join(bench.sections)}  ({bench.note})")
    for name, why in HELPERS.items():
        print(f"  {name:22} not run: {why}")
    if args.dry_run:
        return
    if args.quick:
        QUICK_DOC.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DOC, QUICK_DOC)
    before = sections(doc.read_text(encoding="utf-8")) if doc.exists() else {}
    status: dict[str, str] = {}
    for bench, _ in benchmarks:
        extra = bench.quick if args.quick else bench.full
        if extra is None:
            status[bench.script] = "skipped (no quick mode)"
            continue
        print(f"== {bench.script}", flush=True)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, str(HERE / bench.script), *extra], cwd=HERE, env=env).returncode
        took = f"{time.perf_counter() - start:.0f} s"
        status[bench.script] = f"ok in {took}" if code == 0 else f"FAILED (exit {code}) after {took}"
    print("\n" + summary(doc, benchmarks, before, status))
    failed = [s for s, v in status.items() if v.startswith("FAILED")]
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
