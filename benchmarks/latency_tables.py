"""Latency-table figures: build time, predicted vs measured before and after the learned correction
(LUT and MACs), the pass-to-pass noise ceiling, measurement repeatability.

    python benchmarks/latency_tables.py            # nafnet_sidd at 256²: 8 calibration + 30 validation networks
    python benchmarks/latency_tables.py --quick    # nafnet_tiny at 64²: 8 + 10

Targets (issue "Latency"): table for nafnet_sidd at 256² in ≤ 60 s; over ≥ 30 random architectures
Kendall τ ≥ 0.95 and ≥ 99 % within ±10 %; two measurements of one network minutes apart within 5 %.

The plain table (skeleton + Σ blocks, every block timed alone) is calibrated on a seeded sample of
architectures measured end to end (``nasbench.latency.correction.calibrate``); the validation sample
(another seed, and never one of the calibration networks) is measured once in two passes, and both
predictions — plain sum and corrected — are scored against the same measurements.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from report import IMG, ROOT, table, write_section

import nasbench
from nasbench.deploy.onnx import export_onnx
from nasbench.latency import LatencyTable, Protocol, measure_latency
from nasbench.latency.correction import calibrate
from nasbench.latency.validate import validate

#: End-to-end networks (calibration, and each validation pass): 2 interleaved rounds of 5 runs after 1
#: warm-up run — what keeps the whole script under 20 min on 2 cores (one nafnet_sidd export takes ~15 s).
E2E = {"runs": 5, "rounds": 2, "warmup": 1}


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--space", default=None)
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--n", type=int, default=None, help="validation architectures (default 30; quick 10)")
    parser.add_argument("--calibration", type=int, default=None, help="calibration architectures (default 8; quick 8)")
    parser.add_argument("--grouping", default="block", help="correction grouping (block, block_level)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default=None, help="directory for the corrected table and the validation files")
    args = parser.parse_args()
    space_name = args.space or ("nafnet_tiny" if args.quick else "nafnet_sidd")
    size = args.size or (64 if args.quick else 256)
    n = args.n or (10 if args.quick else 30)
    n_cal = args.calibration or 8
    out_dir = ROOT / (args.output or f"runs/latency_tables_{space_name}_{size}_t{args.threads}")
    space = nasbench.load_space(space_name)
    protocol = Protocol(threads=args.threads)
    loads = [_load()]
    scratch = tempfile.TemporaryDirectory()
    baseline = export_onnx(space.build(space.baseline()), Path(scratch.name) / "baseline.onnx", (1, 3, size, size))

    first = measure_latency(baseline, (3, size, size), protocol)
    start = time.perf_counter()
    lut = LatencyTable.profile(space, (size, size), protocol, work_dir=Path(scratch.name) / "profile", progress=False)
    build_s = time.perf_counter() - start
    loads.append(_load())
    corrected = calibrate(space, lut, n_cal, seed=1000, grouping=args.grouping, progress=False, **E2E)
    corrected.save(out_dir / "table_corrected.yaml")
    loads.append(_load())
    report = validate(space, corrected, n, seed=1, progress=False, repeats=2, **E2E)
    report.save(out_dir / "validation")
    loads.append(_load())
    IMG.mkdir(parents=True, exist_ok=True)
    plot = report.plot(IMG / f"latency_validation_{space_name}_{size}.png")
    second = measure_latency(baseline, (3, size, size), protocol)
    scratch.cleanup()
    drift = abs(second.median_ms - first.median_ms) / first.median_ms * 100
    elapsed_min = (time.perf_counter() - start) / 60

    m, c = report.metrics, corrected.correction
    assert c is not None

    def before_after(key: str, fmt: str) -> str:
        return f"{fmt.format(m['plain_' + key])} → **{fmt.format(m[key])}**"

    rows = [
        {
            "figure": f"table build time, {space_name} at {size}²",
            "target": "≤ 60 s" if space_name == "nafnet_sidd" else "—",
            "reached": f"{build_s:.1f} s ({len(lut.blocks)} block signatures + skeleton)",
        },
        {
            "figure": f"Kendall τ, LUT vs measured ({int(m['n'])} random architectures): plain sum → corrected",
            "target": "≥ 0.95",
            "reached": before_after("kendall_tau", "{:.3f}"),
        },
        {
            "figure": "share within ±10 %: plain → corrected",
            "target": "≥ 99 %",
            "reached": before_after("within_10pct", "{:.1f} %"),
        },
        {"figure": "MAPE: plain → corrected", "target": "—", "reached": before_after("mape_pct", "{:.2f} %")},
        {
            "figure": "noise ceiling: Kendall τ between two end-to-end passes over the same networks",
            "target": "—",
            "reached": f"{m['repeat_kendall_tau']:.3f} ({m['repeat_within_10pct']:.0f} % within ±10 %, "
            f"mean difference {m['repeat_mape_pct']:.2f} %)",
        },
        {"figure": "Kendall τ, MACs vs measured (proxy)", "target": "—", "reached": f"{m['macs_kendall_tau']:.3f}"},
        {
            "figure": f"repeatability: baseline measured twice, {elapsed_min:.0f} min apart",
            "target": "within 5 %",
            "reached": f"{first.median_ms:.1f} ms vs {second.median_ms:.1f} ms ({drift:.1f} %)",
        },
    ]
    scales = ", ".join(f"{g} {s * 100:+.1f} %" for g, s in sorted(c.scale.items()))
    measured = [r["measured_ms"] for r in report.rows]
    e2e = f"{E2E['rounds']}×{E2E['runs']} interleaved runs"
    body = (
        table(rows)
        + f"\n\nProtocol: {protocol.threads} thread(s), graph optimisation `{protocol.graph_optimization}`, "
        f"table entries {protocol.rounds}×{protocol.runs} interleaved runs; end-to-end networks {e2e}. "
        f"Correction (`calibrate`, grouping `{c.grouping}`): fitted on {len(c.calibration)} random architectures "
        f"(seed 1000, measured end to end once, {e2e}; none of them in the validation sample, seed 1) — "
        f"intercept {c.intercept_ms:+.2f} ms, entries scaled {scales}; ridge penalty {c.fit['penalty']} "
        f"(leave-one-out), leave-one-out MAPE on the calibration sample {c.fit['mape_leave_one_out_pct']:.2f} % "
        f"(plain {c.fit['mape_plain_pct']:.2f} %). Validation networks measured in two independent passes; "
        f"their latencies span {min(measured):.1f}–{max(measured):.1f} ms. Load average (1/5/15 min) at the "
        f"start, after profiling, after calibration, after validation: {'; '.join(loads)}.\n\n"
        f"![predicted vs measured]({plot.relative_to(IMG.parent)})\n"
    )
    print(body)
    write_section(
        f"latency-{space_name}-{size}-t{args.threads}",
        f"Latency tables: {space_name} at {size}², {args.threads} thread(s)",
        body,
    )


if __name__ == "__main__":
    main()
