"""Reproduce the saliency-guided, training-free MOBO method for deblurring ("Towards Efficient Image Deblurring
for Edge Deployment").

    python examples/reproduce_deblur_mobo.py --scale tiny --output runs/deblur_tiny     # ≈ 5 min on 2 idle cores
    python examples/reproduce_deblur_mobo.py --scale paper --output runs/deblur_paper   # NAFNet-GoPro-w32, days

Pipeline: the baseline network trained on motion-blurred built-in photos (the teacher) → six zero-cost saliency
metrics per block, the most salient block protected → a surrogate of every hardware-friendly alternative at every
other block, distilled on 25 % of the training crops → multi-objective BO over (PSNR drop of the teacher with the
surrogates stitched in, LUT latency), no network trained → the knee architecture and the baseline trained with the
same budget, BatchNorm folded, exported, timed together in onnxruntime, evaluated on the same photos → summary.json.
Settings live in examples/deblur_mobo.yaml; ``--set mobo.n_evaluations=60`` overrides one; ``--resume`` continues an
interrupted run, skipping finished stages.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

import nasbench
from nasbench.config import build_config
from nasbench.latency import Protocol, latency_table  # the shipped table when it matches, else profiled
from nasbench.search.mobo_pipeline import mobo_pipeline, resolve_settings
from nasbench.search.summary import format_summary

HERE = Path(__file__).resolve().parent


def settings(scale: str, overrides: list[str], teacher: Path | None) -> dict[str, Any]:
    """examples/deblur_mobo.yaml's ``scale`` section with ``--set`` overrides; unknown keys are refused."""
    config = build_config({}, resolve_settings, HERE / "deblur_mobo.yaml", section=scale, overrides=overrides)
    if teacher is not None:
        config["teacher"] = {"checkpoint": str(teacher)}
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["tiny", "paper"], default="tiny")
    parser.add_argument("--output", type=Path, default=Path("runs/deblur_mobo"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--teacher", type=Path, help="weights of a trained baseline network (skips training it)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run, skipping finished stages")
    args = parser.parse_args()
    try:
        cfg = settings(args.scale, args.set, args.teacher)
    except nasbench.NasbenchError as exc:
        parser.exit(2, f"reproduce_deblur_mobo: error: {exc}\n")
    if "threads" in cfg:
        torch.set_num_threads(cfg["threads"])
    args.output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    space = nasbench.load_space(cfg["space"])
    table = latency_table(space, list(cfg["latency_input"]), Protocol(threads=1), work_dir=args.output / "profile")
    result = mobo_pipeline(
        space, table, cfg, args.output, resume=args.resume, started=start, extra_settings={"scale": args.scale}
    )
    run = result.summary["settings"]
    teacher = run["teacher_metrics"]
    print(
        f"teacher {teacher['psnr_db']:.2f} dB (blurred input {teacher['input_psnr_db']:.2f} dB); "
        f"protected {', '.join(run['protected'])}; {run['evaluations']} evaluations "
        f"({run['evaluations_this_run']} in this run); selected: {run['selected']['rule']}"
    )
    print(json.dumps(run["stage_seconds"]))
    print(format_summary(result.summary))
    print(f"wall time {run['wall_time_s']} s; written to {args.output}")


if __name__ == "__main__":
    main()
