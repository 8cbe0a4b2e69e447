"""Latency vs PSNR of every evaluated architecture, with the baseline and the found networks marked.

    python benchmarks/payoff_plot.py [--quick] [--runs runs/ern_tiny ...]

Plots finished search folders (``SearchResult.save`` output: history.csv, result.json, summary.json): its own
two runs, each made first when absent (``OWN_RUNS``) — ``runs/bench_payoff`` by
``examples/reproduce_deblur_mobo.py --scale tiny`` with a smaller budget (about 9 min on the shared 2-core
machine) and ``runs/bench_payoff_darts`` by ``nasbench quickstart`` (DARTS, 1 thread, a smaller budget, about
8 min) — plus the folders given with ``--runs``. ``--quick`` trains nothing: it plots what exists.

- Left panel, one per MOBO run: every evaluated architecture of the search — LUT-predicted latency (the
  run's table and size) against its training-free PSNR (the teacher with surrogate blocks stitched in, on the
  held-out photos); non-finite evaluations are left out and counted. The baseline trial and the selected
  (found) architecture are marked.
- Right panel, every run with a baseline-vs-found comparison (MOBO and DARTS recipes): the two networks
  after the same fine-tuning budget, measured onnxruntime latency against held-out PSNR, an arrow from
  baseline to found.

Writes docs/img/payoff_latency_psnr.png and the ``payoff-plot`` section (``--quick``: the picture goes to
runs/bench_quick/ and nothing is written to docs/).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
from pathlib import Path

from report import IMG, ROOT, table, write_section

from nasbench.search.result import SearchResult

IMAGE = IMG / "payoff_latency_psnr.png"
QUICK_IMAGE = ROOT / "runs" / "bench_quick" / "payoff_latency_psnr.png"
# folder → the command that makes it (run from the repository). The MOBO one is the tiny deblurring recipe with
# a smaller budget (its tiny defaults: teacher 600 steps, surrogates 150, 40 evaluations, fine-tune 600).
OWN_RUNS = {
    Path("runs/bench_payoff"): [
        sys.executable, "examples/reproduce_deblur_mobo.py", "--scale", "tiny", "--output", "runs/bench_payoff",
        "--set", "teacher.steps=200", "--set", "surrogates.steps=80", "--set", "mobo.n_evaluations=30",
        "--set", "finetune.steps=200",
    ],
    Path("runs/bench_payoff_darts"): [
        sys.executable, "-m", "nasbench.cli", "quickstart", "--output", "runs/bench_payoff_darts",
        "--set", "threads=1", "--set", "darts.steps=80", "--set", "darts.warmup_steps=30",
        "--set", "finetune.steps=200",
    ],
}


def finished(folder: Path) -> bool:
    return (folder / "summary.json").is_file() and (folder / "result.json").is_file()


def _finite(*values: object) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def plot(results: dict[str, SearchResult], image: Path) -> list[dict[str, object]]:
    """Draw the two panels into ``image``; return one table row per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mobo = {name: r for name, r in results.items() if r.engine == "mobo"}
    compared = {name: r for name, r in results.items() if r.summary and "baseline" in r.summary}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    left, right = axes
    rows = {name: {"run": name, "engine": r.engine, "evaluated": "—", "non-finite (not drawn)": "—",
                   "baseline ms measured (LUT)": "—", "found ms measured (LUT)": "—", "speed-up": "—",
                   "PSNR change dB": "—", "found": str(r.architecture)} for name, r in results.items()}
    for i, (name, r) in enumerate(mobo.items()):
        ok = [h for h in r.history if _finite(h.get("latency_ms"), h.get("psnr_db"))]
        found = str(r.architecture)
        left.scatter([h["latency_ms"] for h in ok], [h["psnr_db"] for h in ok], s=12, alpha=0.5, c=f"C{i}",
                     label=f"{name}: {len(ok)} evaluated")
        for h in ok:
            if h.get("phase") == "baseline":
                left.scatter(h["latency_ms"], h["psnr_db"], marker="s", s=80, c="k", zorder=3)
            if h.get("architecture") == found:
                left.scatter(h["latency_ms"], h["psnr_db"], marker="*", s=260, c=f"C{i}", edgecolors="k", zorder=4)
        rows[name].update({"evaluated": len(r.history), "non-finite (not drawn)": len(r.history) - len(ok)})
    left.scatter([], [], marker="s", c="k", label="baseline")
    left.scatter([], [], marker="*", s=120, c="w", edgecolors="k", label="found (selected)")
    left.set(xlabel="LUT-predicted latency (ms)", ylabel="training-free PSNR (dB)",
             title="every architecture a MOBO search evaluated")
    left.legend(fontsize=8)
    for i, (name, r) in enumerate(compared.items()):
        b, f = r.summary["baseline"], r.summary["found"]
        right.annotate("", xy=(f["latency_ms"], f["psnr_db"]), xytext=(b["latency_ms"], b["psnr_db"]),
                       arrowprops={"arrowstyle": "->", "color": f"C{i}"})
        right.scatter(b["latency_ms"], b["psnr_db"], marker="s", s=60, c="k", zorder=3)
        right.scatter(f["latency_ms"], f["psnr_db"], marker="*", s=200, c=f"C{i}", edgecolors="k", zorder=4,
                      label=f"{name} ({r.engine}): {b['latency_ms'] / f['latency_ms']:.2f}×, "
                            f"{f['psnr_db'] - b['psnr_db']:+.2f} dB")
        rows[name].update({
            "baseline ms measured (LUT)": f"{b['latency_ms']:.1f} ({b['predicted_latency_ms']:.1f})",
            "found ms measured (LUT)": f"{f['latency_ms']:.1f} ({f['predicted_latency_ms']:.1f})",
            "speed-up": f"{b['latency_ms'] / f['latency_ms']:.2f}×",
            "PSNR change dB": f"{f['psnr_db'] - b['psnr_db']:+.2f}",
        })
    right.set(xlabel="measured latency, onnxruntime (ms)", ylabel="held-out PSNR after fine-tuning (dB)",
              title="baseline (■) → found (★), same fine-tuning budget")
    if compared:
        right.legend(fontsize=8)
    fig.tight_layout()
    image.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(image, dpi=100)
    plt.close(fig)
    return list(rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="picture into runs/bench_quick/, no docs")
    parser.add_argument("--runs", nargs="*", type=Path, default=None, help="more finished search folders")
    args = parser.parse_args()
    for folder, cmd in OWN_RUNS.items():
        if not args.quick and not finished(ROOT / folder):
            print("python " + " ".join(cmd[1:]), flush=True)
            subprocess.run(cmd, cwd=ROOT, check=True)
    given = [ROOT / p for p in args.runs or []]
    missing = [os.path.relpath(f, ROOT) for f in given if not finished(f)]
    if missing:
        sys.exit(f"payoff_plot: --runs: no summary.json + result.json in {', '.join(missing)}")
    folders = [f for f in (*(ROOT / p for p in OWN_RUNS), *given) if finished(f)]
    if not folders:
        print("payoff_plot: nothing to plot (its own runs are not made yet; run without --quick)")
        return
    results = {os.path.relpath(f, ROOT): SearchResult.load(f) for f in folders}
    image = QUICK_IMAGE if args.quick else IMAGE
    rows = plot(results, image)
    body = f"""
![latency vs PSNR]({os.path.relpath(image, IMG.parent)})

Left: every architecture each MOBO search evaluated — LUT-predicted latency against training-free PSNR
(the teacher with distilled surrogate blocks, on the held-out photos; the values the search optimised), the
baseline (■) and the selected network (★). Right: baseline and found after the same fine-tuning budget,
measured onnxruntime latency against held-out PSNR, for every run with a comparison. The measured
latencies are each run's own interleaved timing of its two networks at the size of its table; they differ
from the table's predictions (in brackets) by the load of this shared machine when the table was profiled and
when the networks were timed (other jobs ran throughout), so only ratios within one measurement compare: the
speed-up is one. Runs plotted:

{table(rows)}
"""
    print(body)
    if not args.quick:
        write_section("payoff-plot", "Latency vs PSNR: every evaluated architecture, baseline and found", body)


if __name__ == "__main__":
    main()
