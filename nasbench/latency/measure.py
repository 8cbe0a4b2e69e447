"""End-to-end latency of one network: ``measure_latency``."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from nasbench.cost import input_shape
from nasbench.deploy.onnx import export_onnx
from nasbench.latency.runtime import Protocol, Stats, TimedSession, runtime_info, time_interleaved


@dataclass(frozen=True)
class LatencyMeasurement:
    """End-to-end onnxruntime latency of a network, in milliseconds, and the settings used."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    runs: int
    settings: dict[str, Any] = field(default_factory=dict)


def measure_latencies(
    models: Mapping[str, nn.Module | str | Path],
    input_size: Sequence[int],
    protocol: Protocol | None = None,
    **protocol_overrides: Any,
) -> dict[str, LatencyMeasurement]:
    """Time several networks *together*, interleaved, so their ratio is fair on a shared machine.

    Each value is a network (exported here) or the path of an ONNX file already exported at ``input_size``.
    """
    protocol = Protocol(**{**(protocol or Protocol()).to_dict(), **protocol_overrides})
    shape = input_shape(input_size)
    settings = {**runtime_info(protocol), **protocol.to_dict(), "input_size": list(shape)}
    with tempfile.TemporaryDirectory(prefix="nasbench-latency-") as tmp:
        sessions = {
            name: TimedSession(
                Path(model)
                if isinstance(model, str | Path)
                else export_onnx(model, Path(tmp) / f"{i}.onnx", shape, opset=protocol.opset),
                protocol,
            )
            for i, (name, model) in enumerate(models.items())
        }
        samples = time_interleaved(sessions, protocol)
    out = {}
    for name, values in samples.items():
        stats = Stats.of(values)
        out[name] = LatencyMeasurement(stats.median_ms, stats.p10_ms, stats.p90_ms, stats.runs, settings)
    return out


def measure_latency(
    model: nn.Module | str | Path,
    input_size: Sequence[int],
    protocol: Protocol | None = None,
    **protocol_overrides: Any,
) -> LatencyMeasurement:
    """Export ``model`` to ONNX (or take an ONNX path) and time it in onnxruntime on the CPU.

    ``input_size`` is (C, H, W) or (N, C, H, W). Settings come from ``protocol`` (default
    :class:`Protocol`) with keyword overrides, e.g. ``measure_latency(model, (3, 256, 256), threads=2)``.
    """
    protocol = Protocol(**{**(protocol or Protocol()).to_dict(), **protocol_overrides})
    shape = input_shape(input_size)
    with tempfile.TemporaryDirectory(prefix="nasbench-latency-") as tmp:
        path = (
            Path(model)
            if isinstance(model, str | Path)
            else export_onnx(model, Path(tmp) / "model.onnx", shape, opset=protocol.opset)
        )
        samples = time_interleaved({"model": TimedSession(path, protocol)}, protocol)["model"]
    stats = Stats.of(samples)
    settings = {**runtime_info(protocol), **protocol.to_dict(), "input_size": list(shape)}
    return LatencyMeasurement(stats.median_ms, stats.p10_ms, stats.p90_ms, stats.runs, settings)
