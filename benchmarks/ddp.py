"""Supernet DDP throughput: the same DARTS search in two processes vs one (figure 4).

    python benchmarks/ddp.py [--quick] [--modes sampled all] [--steps 14] [--repeats 3] [--crop 64] [--batch 8]

Every run is ``nasbench.search.darts`` on ``nafnet_tiny`` (built-in denoising data, σ = 25, latency from the
shipped ``nafnet_tiny_256_t1.yaml``), started the way docs/distributed.md says:
``python -m torch.distributed.run --standalone --nproc_per_node=N benchmarks/ddp.py --worker ...``, one thread
per process (``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)``). N = 1 is the plain one-process search
(``WORLD_SIZE=1``: no process group, no DDP wrapper); N = 2 initialises gloo and wraps the supernet in
DistributedDataParallel (``find_unused_parameters`` in ``sampled`` mode). The batch is per process, so two
processes handle twice the images per step.

A step is one weight step and one α step (warm-up is 1 step; the first ``SKIP`` full steps are not timed);
its time is the interval between consecutive steps on rank 0 (``darts``' callback), median over the timed
steps of a run. Throughput = N × 2 batches × batch size / step time (images per second, weight and α
batches both counted). Runs are interleaved (repeat r runs 1 then 2 processes, repeat r + 1 the other way
round) and each repeat gives its own 2-process / 1-process throughput ratio; the figure is the median of
those ratios. The ideal on 2 cores is 2.0× (the issue sets no number).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
SPACE = "nafnet_tiny"
SKIP = 2  # full steps not timed at the start of every run (allocator, DDP buckets)


def worker(out: Path, mode: str, steps: int, crop: int, batch: int) -> None:
    """One rank of a run: a DARTS search of ``steps`` steps; rank 0 writes its step times to ``out``."""
    import torch
    import torch.distributed as dist

    import nasbench
    from nasbench.latency import LatencyTable
    from nasbench.search import darts
    from nasbench.train import builtin_data

    torch.set_num_threads(1)
    space = nasbench.load_space(SPACE)
    table = LatencyTable.load(Path(nasbench.__file__).parent / "profiles" / "tables" / "nafnet_tiny_256_t1.yaml")
    train, _ = builtin_data("denoise", sigma=25, crop=crop)
    stamps: list[tuple[float, float]] = []  # (wall, this process's CPU time) at the end of each step, s
    result = darts(
        space, train, table, steps=steps, warmup_steps=1, batch_size=batch, mode=mode, progress=False,
        callback=lambda _row: stamps.append((time.perf_counter(), time.process_time())),
    )  # fmt: skip
    if stamps:  # the callback runs on rank 0 only
        intervals = [b[0] - a[0] for a, b in zip(stamps, stamps[1:])]
        timed = stamps[SKIP:]
        record = {
            "mode": mode,
            "world": result.settings["world_size"],
            "batch": batch,
            "crop": crop,
            "step_ms": [1000 * s for s in intervals[SKIP:]],
            "cpu_share": (timed[-1][1] - timed[0][1]) / (timed[-1][0] - timed[0][0]),
            "cpu_ms": 1000 * (timed[-1][1] - timed[0][1]) / (len(timed) - 1),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        out.write_text(json.dumps(record) + "\n", encoding="utf-8")
    if dist.is_initialized():
        dist.destroy_process_group()


def measure(mode: str, world: int, steps: int, crop: int, batch: int, scratch: Path) -> dict[str, Any]:
    """Launch one run of ``world`` processes under torch.distributed.run; rank 0's record plus the
    1-minute load average at its start and end."""
    scratch.mkdir(parents=True, exist_ok=True)
    out = scratch / f"{mode}_{world}proc.json"
    out.unlink(missing_ok=True)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={world}", str(HERE),
        "--worker", str(out), "--modes", mode, "--steps", str(steps), "--crop", str(crop), "--batch", str(batch),
    ]  # fmt: skip
    load = os.getloadavg()[0]
    run = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if run.returncode != 0 or not out.exists():
        tail = run.stderr[-3000:]
        raise SystemExit(f"ddp.py: {mode} with {world} process(es) failed (exit {run.returncode}):\n{tail}")
    record = json.loads(out.read_text(encoding="utf-8"))
    record["load"] = [load, os.getloadavg()[0]]
    return record


def throughput(record: dict[str, Any]) -> float:
    """Images per second of one run (weight and α batches of every process)."""
    return record["world"] * 2 * record["batch"] / (statistics.median(record["step_ms"]) / 1000)


def rows(records: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One table row per (mode, processes); ``records`` hold every repeat, in the order they ran, with the
    i-th 1-process and i-th 2-process record of a mode forming repeat i."""
    out = []
    for mode in dict.fromkeys(r["mode"] for r in records):
        by_world = {w: [r for r in records if r["mode"] == mode and r["world"] == w] for w in (1, 2)}
        ratios = [throughput(two) / throughput(one) for one, two in zip(by_world[1], by_world[2])]
        cpu = {w: statistics.median(r["cpu_ms"] for r in runs) for w, runs in by_world.items()}
        for world, runs in by_world.items():
            medians = [statistics.median(r["step_ms"]) for r in runs]
            listed = ", ".join(f"{x:.2f}" for x in ratios)
            ratio = "" if world == 1 else f"{statistics.median(ratios):.2f}× (repeats {listed})"
            per_repeat = ", ".join(f"{m:.0f}" for m in medians)
            out.append(
                {
                    "mode": f"`{mode}`",
                    "processes": str(world),
                    "step ms (median; per repeat)": f"{statistics.median(medians):.0f} ({per_repeat})",
                    "images/s": f"{statistics.median(throughput(r) for r in runs):.1f}",
                    "peak RSS MB (rank 0)": f"{statistics.median(r['peak_rss_mb'] for r in runs):.0f}",
                    "rank-0 CPU ms / step": f"{cpu[world]:.0f}",
                    "rank-0 CPU / wall": f"{statistics.median(r['cpu_share'] for r in runs):.2f}",
                    "2-process / 1-process throughput": ratio,
                    "2 × CPU ms ratio": "" if world == 1 else f"{2 * cpu[1] / cpu[2]:.2f}×",
                    "target": "" if world == 1 else "ideal 2.0× on 2 cores",
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke sizes: 32² crops, 6 steps, 1 repeat")
    parser.add_argument("--modes", nargs="+", choices=("sampled", "all"), default=["sampled", "all"])
    parser.add_argument("--steps", type=int, default=None, help="DARTS steps per run (default 14; quick 6)")
    parser.add_argument("--repeats", type=int, default=None, help="default 3; quick 1")
    parser.add_argument("--crop", type=int, default=None, help="crop side in px (default 64; quick 32)")
    parser.add_argument("--batch", type=int, default=8, help="batch size per process")
    parser.add_argument("--scratch", type=Path, default=HERE.parents[1] / "runs" / "bench_ddp")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)  # one rank (internal)
    args = parser.parse_args()
    steps = args.steps or (6 if args.quick else 14)
    crop = args.crop or (32 if args.quick else 64)
    if steps < SKIP + 3:
        parser.error(f"--steps must be ≥ {SKIP + 3} (1 warm-up step, {SKIP} untimed, at least 1 timed)")
    if args.worker is not None:
        worker(args.worker, args.modes[0], steps, crop, args.batch)
        return
    from report import table, write_section

    repeats = args.repeats or (1 if args.quick else 3)
    records = []
    for r in range(repeats):
        for mode in args.modes:
            for world in (1, 2) if r % 2 == 0 else (2, 1):
                records.append(measure(mode, world, steps, crop, args.batch, args.scratch))
                rec = records[-1]
                print(
                    f"repeat {r}, {mode}, {world} process(es): step {statistics.median(rec['step_ms']):.0f} ms, "
                    f"{throughput(rec):.1f} images/s, CPU/wall {rec['cpu_share']:.2f}, load {rec['load'][0]:.1f} → "
                    f"{rec['load'][1]:.1f}",
                    flush=True,
                )
    (args.scratch / "records.json").write_text(json.dumps(records) + "\n", encoding="utf-8")
    loads = [x for rec in records for x in rec["load"]]
    body = (
        table(rows(records))
        + f"\n\n`nasbench.search.darts` on {SPACE} (11 positions × 4 candidates), μ = 0.5, built-in denoising "
        f"data at {crop}×{crop}, batch {args.batch} per process, 1 thread per process, launched with "
        "`python -m torch.distributed.run --standalone --nproc_per_node=N` (1 process: no process group; "
        f"2: gloo + DistributedDataParallel). {steps} steps per run: 1 warm-up step, {SKIP} untimed, median of "
        f"the other {steps - 1 - SKIP} step times (a step = weight step + α step on rank 0); images/s counts "
        "both batches of every process; rank-0 CPU / wall is that process's CPU time over the wall time of the "
        "timed steps (1.00: it never waited; less: it waited for the other rank's gradients or for a core), and "
        "2 × CPU ms ratio = 2 × rank-0 CPU time per step alone ÷ in 2 processes: the throughput ratio if each "
        "process had a core to itself and never waited, an estimate of DDP's CPU cost that the shared machine's "
        "load affects less than it affects the measured ratio. "
        f"{repeats} interleaved repeat(s); the ratio is per repeat (runs next to "
        "each other), median over repeats. The machine is shared: 1-minute load average at the starts and ends "
        f"of the runs {min(loads):.1f}–{max(loads):.1f} on 2 cores, these runs' own processes (1 or 2) included; "
        "above 2, other jobs took CPU time from them, from the 2-process runs most.\n"
    )
    print(body)
    write_section("ddp", "Supernet DDP throughput: two processes vs one", body)


if __name__ == "__main__":
    main()
