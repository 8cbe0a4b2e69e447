"""Search payoff of the ERN-Net recipe: found vs baseline at equal fine-tuning, measured in onnxruntime.

    python benchmarks/ern_net.py [--scale tiny] [--set darts.mu=0.5 ...]

Runs examples/reproduce_ern_net.py and reports its summary.json. Target (issue "DARTS", the ERN-Net
headline on this CPU): ≥ 2× lower measured latency at ≤ 0.7 % PSNR drop.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from report import ROOT, table, write_section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="tiny")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--output", default="runs/bench_ern_net", help="recipe output, relative to the repository")
    parser.add_argument("--existing", action="store_true", help="report the recipe run already in --output")
    args = parser.parse_args()
    output = ROOT / args.output  # relative paths are relative to the repository, absolute ones stay
    cmd = [sys.executable, str(ROOT / "examples" / "reproduce_ern_net.py"), "--scale", args.scale]
    cmd += ["--output", str(output)]
    for item in args.set:
        cmd += ["--set", item]
    if not args.existing:
        subprocess.run(cmd, check=True)
    summary = json.loads((output / "summary.json").read_text())
    base, found = summary["baseline"], summary["found"]
    rows = [
        {
            "network": name,
            "architecture": f"`{m['architecture']}`",
            "params": f"{m['params']:,}",
            "GMACs": f"{m['macs'] / 1e9:.2f}",
            "latency ms (measured)": f"{m['latency_ms']:.1f}",
            "predicted ms": f"{m['predicted_latency_ms']:.1f}",
            "PSNR dB": f"{m['psnr_db']:.2f}",
            "SSIM": f"{m['ssim']:.4f}",
        }
        for name, m in (("baseline", base), ("found", found))
    ]
    speedup = base["latency_ms"] / found["latency_ms"]
    drop = 100 * (base["psnr_db"] - found["psnr_db"]) / base["psnr_db"]
    settings = summary["settings"]
    recipe = " ".join(
        [
            "python examples/reproduce_ern_net.py",
            "--scale",
            args.scale,
            "--output",
            args.output,
            *[f"--set {item}" for item in args.set],
        ]
    )
    body = (
        f"Recipe run: `{recipe}`\n\n"
        + table(rows)
        + f"\n\n**Speed-up {speedup:.2f}× (target ≥ 2×) at a PSNR drop of {drop:.2f} % (target ≤ 0.7 %)**; "
        f"SSIM {found['ssim'] - base['ssim']:+.4f}. Both networks trained from scratch with the same budget "
        f"({settings['finetune']['steps']} steps, batch {settings['finetune']['batch_size']}), BatchNorm folded, "
        f"timed together (interleaved) at {settings['latency_input'][0]}² with 1 thread, evaluated on the two "
        f"held-out photographs with σ = {settings['data']['sigma']} noise. Search: {settings['darts']}. "
        f"Wall time {settings['wall_time_s'] / 60:.1f} min.\n"
    )
    print(body)
    tag = "-".join([args.scale, *[s.replace("=", "") for s in args.set]])
    write_section(
        f"ern-{tag}", f"Search payoff: ERN-Net recipe, --scale {args.scale} {' '.join(args.set)}".rstrip(), body
    )


if __name__ == "__main__":
    main()
