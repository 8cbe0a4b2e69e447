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


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


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
            "latency ms (table)": _ms(summary[n]["predicted_latency_ms"]),
            "PSNR dB": f"{summary[n]['psnr_db']:.2f}",
            "SSIM": f"{summary[n]['ssim']:.4f}",
        }
        for n in names
    ]
    s = summary["settings"]
    teacher, students = s["teacher"], s["students"]
    gap, gain, closed = summary["gap_db"], summary["kd_gain_db"], summary["gap_closed"]
    if closed is not None:
        reached = "reached" if closed >= 0.5 else "not reached"
        verdict = (
            f"**Gap closed by distillation: {100 * closed:.0f} % (target ≥ 50 %: {reached})** — the α = 0.9 "
            f"student gained {gain:+.2f} dB of the {gap:.2f} dB between the α = 0 student and the teacher."
        )
    else:
        verdict = (
            f"**Target not measurable in this run: the teacher is {-gap:.2f} dB below the α = 0 student, so there "
            f"is no gap to close; distillation changed the student by {gain:+.2f} dB.**"
        )
    load = s.get("load_average_1min")
    busy = f" (1-min load average {load[0]:.1f} at the start, {load[1]:.1f} at the end, on 2 cores)" if load else ""
    body = (
        f"Recipe run: `python {' '.join(recipe)}`\n\n"
        + table(rows)
        + "\n\n"
        + verdict
        + f" Teacher `{teacher['model']}` trained {teacher['steps']} steps on {teacher['crop']} px crops "
        f"(batch {teacher['batch_size']}, lr {teacher['lr']}, loss `{teacher['loss']}`); both students "
        f"`{summary['student_kd']['architecture']}` from the same initialisation with equal steps "
        f"({students['steps']}), crop schedule {students['crop_schedule']} ([until step, crop, batch]), "
        f"lr {students['lr']}, α = {students['alpha']} and 0. σ = {s['data']['sigma']}, two held-out photographs; "
        f"latency at {s['latency']['input'][0]}×{s['latency']['input'][1]}, 1 thread, interleaved. The α = 0.9 "
        f"student's ONNX graph has {s['npu_native_violations']} operators outside the `npu_native` allow-list. "
        f"Predicted latencies from `{s['latency_table']}`. Wall time {s['wall_time_s'] / 60:.1f} min (latency "
        f"table {s['latency_table_s']:.0f} s, teacher {s['teacher_s']:.0f} s, students {s['students_s']:.0f} s "
        f"in {students['processes']} process(es) — α = 0.9 {s['student_kd_s']:.0f} s, α = 0 "
        f"{s['student_clean_s']:.0f} s — evaluation and timing {s['evaluation_s']:.0f} s){busy}; a teacher "
        "already in OUTPUT/teacher is reused, and its time is then only the loading.\n"
    )
    print(body)
    write_section("lite-denoise-tiny", "Distillation payoff: LiteDenoiseNet recipe, --scale tiny", body)


if __name__ == "__main__":
    main()
