"""ENS (Restormer → SSM) at --scale tiny: how much faster is the knee hybrid, at what PSNR, per objective pair?

    python benchmarks/ens.py [--existing] [--output runs/ens_tiny] [--set KEY=VALUE ...]

Runs examples/reproduce_ens.py --scale tiny (unless --existing) and reports its summary.json: per search
(ENS's (PSNR drop, transformer count) and ours (PSNR drop, LUT latency)), the baseline and the knee trained with
one budget, their measured onnxruntime latency (timed together), PSNR and transformer-block count.
Target (issue 5, section 5): the ``ssm`` block is faster than the ``restormer`` block, so trading transformer
blocks for SSM blocks buys measured speed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from report import ROOT, table, write_section


def rows(summary: dict[str, Any], output: Path) -> list[dict[str, object]]:
    """One table row per search and network (baseline, knee)."""
    out: list[dict[str, object]] = []
    for name, record in summary["settings"]["searches"].items():
        sub = json.loads((output / record["summary"]).read_text(encoding="utf-8"))
        blocks = record["transformer_blocks"]
        for role in ("baseline", "found"):
            m = sub[role]
            out.append(
                {
                    "search (objectives)": f"{name} ({', '.join(record['objectives'])})",
                    "network": "baseline" if role == "baseline" else "knee",
                    "transformer blocks": blocks[role],
                    "params": f"{m['params']:,}",
                    "latency ms (measured)": f"{m['latency_ms']:.2f}",
                    "predicted ms (LUT)": f"{m['predicted_latency_ms']:.2f}",
                    "PSNR dB": f"{m['psnr_db']:.2f}",
                    "SSIM": f"{m['ssim']:.4f}",
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="runs/ens_tiny", help="recipe output, relative to the repository")
    parser.add_argument("--existing", action="store_true", help="report the recipe run already in --output")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="passed to the recipe")
    args = parser.parse_args()
    output = ROOT / args.output
    recipe = ["examples/reproduce_ens.py", "--scale", "tiny", "--output", args.output]
    recipe += [arg for item in args.set for arg in ("--set", item)]
    if not args.existing:
        subprocess.run([sys.executable, *recipe], cwd=ROOT, check=True)
    summary = json.loads((output / "summary.json").read_text(encoding="utf-8"))
    s = summary["settings"]
    lines = []
    for name, record in s["searches"].items():
        free = record["found_training_free"]
        sub = json.loads((output / record["summary"]).read_text(encoding="utf-8"))
        predicted = sub["baseline"]["predicted_latency_ms"] / sub["found"]["predicted_latency_ms"]
        lines.append(
            f"- **{name}**: knee **{record['measured_speedup']:.2f}× faster** than the baseline (measured, timed "
            f"together; LUT-predicted {predicted:.2f}×), PSNR {-record['trained_psnr_drop_db']:+.2f} dB after "
            "training with the same budget "
            f"(training-free estimate during the search: {-free['psnr_drop_db']:+.2f} dB); transformer blocks "
            f"{record['transformer_blocks']['baseline']} → {record['transformer_blocks']['found']}; "
            f"{record['evaluations']} evaluations; knee `{record['found']['architecture']}`."
        )
    start = f" (compare.init: {s['compare']['init']})" if "compare" in s else ""
    body = (
        f"Recipe run: `python {' '.join(recipe)}`\n\n"
        + table(rows(summary, output))
        + "\n\n"
        + "\n".join(lines)
        + f"\n\nSpace `{s['space']}`, task `{s['data']['task']}`, latency at {s['latency_input'][0]}×"
        f"{s['latency_input'][1]}, 1 thread; teacher {s['teacher_metrics']['psnr_db']:.2f} dB (input "
        f"{s['teacher_metrics']['input_psnr_db']:.2f} dB) on the two validation photos; finetune "
        f"{s['finetune']['steps']} steps for baseline and knee alike{start}. Wall time {s['wall_time_s'] / 60:.1f} min "
        "for both searches (the second reuses the first one's teacher and surrogates).\n"
    )
    print(body)
    write_section("ens-tiny", "ENS (Restormer → SSM): recipe, --scale tiny", body)


if __name__ == "__main__":
    main()
