"""Distillation payoff of the LiteDenoiseNet recipe: does the α = 0.9 student close the gap to its teacher?

    python benchmarks/lite_denoise.py [--existing] [--output runs/bench_lite_denoise]

Runs examples/reproduce_lite_denoise.py --scale tiny (unless --existing) and reports its summary.json.
Target (issue "Distillation"): at equal steps the α = 0.9 student closes ≥ 50 % of the PSNR gap between
the α = 0 student and the teacher (the paper: 1.63 dB → 0.05 dB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from report import ROOT, table, write_section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="runs/bench_lite_denoise", help="recipe output, relative to the repository")
    parser.add_argument("--existing", action="store_true", help="report the recipe run already in --output")
    args = parser.parse_args()
    output = ROOT / args.output
    recipe = ["examples/reproduce_lite_denoise.py", "--scale", "tiny", "--output", args.output]
    if not args.existing:
        subprocess.run([sys.executable, *recipe], cwd=ROOT, check=True)
    summary = json.loads((output / "summary.json").read_text())
    names = ("teacher", "student_kd", "student_clean")
    rows = [
        {
            "network": n,
            "model": summary[n]["architecture"],
            "params": f"{summary[n]['params']:,}",
            "latency ms (measured)": f"{summary[n]['latency_ms']:.1f}",
            "PSNR dB": f"{summary[n]['psnr_db']:.2f}",
            "SSIM": f"{summary[n]['ssim']:.4f}",
        }
        for n in names
    ]
    s = summary["settings"]
    teacher, kd, clean = (summary[n]["psnr_db"] for n in names)
    if teacher > clean:
        verdict = (
            f"**Gap closed by distillation: {100 * (kd - clean) / (teacher - clean):.0f} % (target ≥ 50 %)** "
            f"of the {teacher - clean:.2f} dB between the α = 0 student and the teacher."
        )
    else:
        verdict = (
            f"**Target not measurable in this run: the teacher ({teacher:.2f} dB) is not better than the "
            f"α = 0 student ({clean:.2f} dB), so there is no gap to close; distillation changed the student by "
            f"{kd - clean:+.2f} dB.** A stronger teacher (more steps, a larger model) is needed."
        )
    body = (
        f"Recipe run: `python {' '.join(recipe)}`\n\n"
        + table(rows)
        + "\n\n"
        + verdict
        + " Equal steps for both students "
        f"({s['student_steps']}), crop schedule {s['crop_schedule']} ([until step, crop, batch]), lr {s['lr']}; "
        f"teacher `{s['teacher']}` trained {s['teacher_steps']} steps; σ = 25, two held-out photographs; latency "
        f"at {s['latency_input'][0]}×{s['latency_input'][1]}, 1 thread, interleaved. The α = 0.9 student's ONNX "
        f"graph has {s['npu_native_violations']} operators outside the `npu_native` allow-list. "
        f"Wall time {s['wall_time_s'] / 60:.1f} min.\n"
    )
    print(body)
    write_section("lite-denoise-tiny", "Distillation payoff: LiteDenoiseNet recipe, --scale tiny", body)


if __name__ == "__main__":
    main()
