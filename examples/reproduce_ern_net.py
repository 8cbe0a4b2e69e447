"""Reproduce the ERN-Net method: entropy-regularised DARTS over NAFNet with hardware-friendly alternatives.

    python examples/reproduce_ern_net.py --scale tiny --output runs/ern_tiny     # ≤ 10 min on 2 cores
    python examples/reproduce_ern_net.py --scale paper --output runs/ern_paper   # NAFNet-SIDD-w32, days

Pipeline: latency table (shipped in profiles/tables/ when it matches, else profiled here) → DARTS on the
supernet (weights on training crops, α on held-out crops; task + μ·latency + λ(t)·entropy) → argmax
architecture → baseline and found network trained from scratch with the same budget → BatchNorm folded,
exported, timed together in onnxruntime, evaluated on the same validation photos → summary.json.
Settings live in examples/ern_net.yaml; ``--set darts.mu=2.0`` overrides one.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import nasbench
from nasbench.config import build_config
from nasbench.latency import Protocol, latency_table
from nasbench.quickstart import check_darts_settings
from nasbench.search.pipeline import darts_pipeline
from nasbench.search.summary import format_summary

HERE = Path(__file__).resolve().parent


def settings(scale: str, overrides: list[str]) -> dict[str, Any]:
    """examples/ern_net.yaml's ``scale`` section with ``--set`` overrides; unknown keys are refused."""
    return build_config({}, check_darts_settings, HERE / "ern_net.yaml", section=scale, overrides=overrides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["tiny", "paper"], default="tiny")
    parser.add_argument("--output", type=Path, default=Path("runs/ern_net"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted search")
    args = parser.parse_args()
    try:
        cfg = settings(args.scale, args.set)
    except nasbench.NasbenchError as exc:
        parser.exit(2, f"reproduce_ern_net: error: {exc}\n")
    args.output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    space = nasbench.load_space(cfg["space"])
    size = list(cfg["latency_input"])
    table = latency_table(space, size, Protocol(threads=1), work_dir=args.output / "profile")
    result = darts_pipeline(
        space, table, cfg, args.output, resume=args.resume, started=start, extra_settings={"scale": args.scale}
    )
    print(json.dumps(result.summary["settings"]))
    print(format_summary(result.summary))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
