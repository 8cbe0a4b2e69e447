"""Regenerate the latency tables shipped in profiles/tables/: every built-in space at 256×256 and the
tiny spaces also at their test size (64×64), with onnxruntime on this CPU at 1 and 2 threads.

    python benchmarks/build_profiles.py [--spaces nafnet_sidd ...] [--threads 1 2]

Resumable: work files live in runs/profiles/; rerun the same command after an interruption. Spaces
that share signatures (nafnet_sidd and nafnet_gopro) reuse each other's entries through ``base``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import nasbench
from nasbench.latency import LatencyTable, Protocol

ROOT = Path(__file__).resolve().parents[1]
SIZES = {
    "nafnet_sidd": (256,),
    "nafnet_gopro": (256,),
    "restormer": (256,),
    "lite_denoise": (256,),
    "nafnet_tiny": (64, 256),
    "restormer_tiny": (64, 256),
}


def table_path(space: str, size: int, threads: int) -> Path:
    return ROOT / "profiles" / "tables" / f"{space}_{size}_t{threads}.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spaces", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    args = parser.parse_args()
    for threads in args.threads:
        for name, size in [(n, size) for n in args.spaces for size in SIZES[n]]:
            out = table_path(name, size, threads)
            base = None
            if name == "nafnet_gopro" and table_path("nafnet_sidd", size, threads).exists():
                base = LatencyTable.load(table_path("nafnet_sidd", size, threads))
            start = time.perf_counter()
            table = LatencyTable.profile(
                nasbench.load_space(name),
                (size, size),
                Protocol(threads=threads),
                work_dir=ROOT / "runs" / "profiles" / out.stem,
                base=base,
            )
            if base is not None:
                table.metadata["space"] = name
            table.save(out)
            print(f"{out.relative_to(ROOT)}: {len(table.blocks)} blocks in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
