"""benchmarks/ddp.py: a real two-process run under torch.distributed.run, and the table's ratios."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_two_process_run_records_world_two_and_step_times(load_benchmark, tmp_path: Path) -> None:
    ddp = load_benchmark("ddp")
    record = ddp.measure("sampled", 2, steps=ddp.SKIP + 3, crop=16, batch=2, scratch=tmp_path)
    assert record["world"] == 2  # gloo process group initialised by darts, supernet wrapped in DDP
    assert len(record["step_ms"]) == 2 and all(t > 0 for t in record["step_ms"])
    assert record["peak_rss_mb"] > 50 and 0 < record["cpu_share"] <= 1.5
    assert len(record["load"]) == 2 and record["cpu_ms"] > 0
    # 2 processes × (weight + α batch) × batch 2 images per median step
    assert ddp.throughput(record) == pytest.approx(8 / (sum(record["step_ms"]) / 2 / 1000))


def _record(mode: str, world: int, step_ms: float) -> dict:
    times = [step_ms - 2, step_ms, step_ms + 5]  # median step_ms
    shares = {1: 0.7, 2: 0.9}  # rank-0 CPU / wall
    return {"mode": mode, "world": world, "batch": 8, "step_ms": times, "peak_rss_mb": 300.0 * world,
            "cpu_share": shares[world], "cpu_ms": 0.9 * step_ms}  # fmt: skip


def test_rows_pair_repeats_and_take_the_median_ratio(load_benchmark) -> None:
    ddp = load_benchmark("ddp")
    records = [
        _record("sampled", 1, 100), _record("sampled", 2, 125),  # repeat 0: ratio 2 × 100 / 125 = 1.60
        _record("sampled", 2, 110), _record("sampled", 1, 100),  # repeat 1: 1.82
        _record("sampled", 1, 120), _record("sampled", 2, 120),  # repeat 2: 2.00
        _record("all", 1, 400), _record("all", 2, 500),
    ]  # fmt: skip
    one, two, all_one, all_two = ddp.rows(records)
    assert (one["mode"], one["processes"], two["processes"]) == ("`sampled`", "1", "2")
    assert one["step ms (median; per repeat)"] == "100 (100, 100, 120)"
    assert one["images/s"] == "160.0"  # 1 × 2 × 8 images / 0.1 s
    assert one["2-process / 1-process throughput"] == "" and one["target"] == ""
    assert two["2-process / 1-process throughput"] == "1.82× (repeats 1.60, 1.82, 2.00)"
    assert two["peak RSS MB (rank 0)"] == "600"
    assert (one["rank-0 CPU / wall"], two["rank-0 CPU / wall"]) == ("0.70", "0.90")
    # 0.9 × (100, 100, 120), 0.9 × (125, 110, 120)
    assert (one["rank-0 CPU ms / step"], two["rank-0 CPU ms / step"]) == ("90", "108")
    assert two["2 × CPU ms ratio"] == "1.67×" and one["2 × CPU ms ratio"] == ""  # 2 × 90 / 108
    assert all_two["2-process / 1-process throughput"] == "1.60× (repeats 1.60)"
    assert all_one["mode"] == "`all`"
