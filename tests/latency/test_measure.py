"""measure_latency, the timing protocol and validation (real onnxruntime sessions)."""

from __future__ import annotations

import pytest

import nasbench
from nasbench.latency import Protocol, measure_latency
from nasbench.latency.validate import summarize, validate


def test_measure_latency_records_settings() -> None:
    model = nasbench.create_model("nafnet_tiny")
    m = measure_latency(model, (3, 32, 32), warmup=1, runs=3, rounds=2, threads=2)
    assert 0 < m.p10_ms <= m.median_ms <= m.p90_ms and m.runs == 6
    assert m.settings["threads"] == 2 and m.settings["graph_optimization"] == "all"
    assert m.settings["runtime"].startswith("onnxruntime") and m.settings["input_size"] == [1, 3, 32, 32]


def test_measure_latency_orders_networks_by_work() -> None:
    small = nasbench.create_block("conv_bn_relu", 8)
    large = nasbench.create_block("naf", 64)
    fast = measure_latency(small, (8, 32, 32), warmup=1, runs=5, rounds=2)
    slow = measure_latency(large, (64, 64, 64), warmup=1, runs=5, rounds=2)
    assert slow.median_ms > 3 * fast.median_ms


@pytest.mark.parametrize(
    ("field", "value"), [("graph_optimization", "max"), ("threads", 0), ("runs", 0), ("warmup", -1)]
)
def test_protocol_rejects_bad_settings(field: str, value: object) -> None:
    with pytest.raises(nasbench.NasbenchError, match=field):
        Protocol(**{field: value})


def test_summarize_metrics() -> None:
    rows = [
        {"predicted_ms": 10.0, "measured_ms": 10.5, "macs": 3},
        {"predicted_ms": 20.0, "measured_ms": 18.0, "macs": 2},
        {"predicted_ms": 30.0, "measured_ms": 36.0, "macs": 1},
    ]
    m = summarize(rows)
    assert m["kendall_tau"] == pytest.approx(1.0)
    assert m["macs_kendall_tau"] == pytest.approx(-1.0)
    assert m["mape_pct"] == pytest.approx((0.5 / 10.5 + 2 / 18 + 6 / 36) / 3 * 100)
    assert m["within_10pct"] == pytest.approx(100 / 3)


def test_validate_writes_table_and_plot(tiny_space, tiny_table, tmp_path) -> None:
    report = validate(tiny_space, tiny_table, n=3, seed=1, progress=False, warmup=1, runs=2, rounds=1)
    assert len(report.rows) == 3 and len({r["architecture"] for r in report.rows}) == 3
    for row in report.rows:
        assert row["measured_ms"] > 0 and row["predicted_ms"] > 0 and row["macs"] > 0
    report.save(tmp_path)
    assert (tmp_path / "validation.png").stat().st_size > 1000
    assert {"kendall_tau", "mape_pct", "within_10pct", "macs_kendall_tau"} <= set(report.metrics)
    assert "architectures: Kendall τ" in str(report)


def test_repeatability_is_the_agreement_of_two_passes() -> None:
    from nasbench.latency.validate import repeatability

    rows = [
        {"measured_pass1_ms": 10.0, "measured_pass2_ms": 10.0},
        {"measured_pass1_ms": 20.0, "measured_pass2_ms": 25.0},
        {"measured_pass1_ms": 30.0, "measured_pass2_ms": 24.0},
    ]
    m = repeatability(rows)
    assert m["repeat_kendall_tau"] == pytest.approx(1 / 3)
    assert m["repeat_within_10pct"] == pytest.approx(100 / 3)
    assert m["repeat_mape_pct"] == pytest.approx((0 + 5 / 25 + 6 / 24) / 3 * 100)
