"""onnxruntime sessions and the timing protocol shared by every latency measurement.

All timings go through :func:`time_interleaved`: several networks are timed in rounds, one burst of runs
per network per round, so that load from other processes on a shared machine spreads over all of them
instead of landing on whichever happened to be measured at the wrong moment. Statistics are taken over
all runs (median, 10th and 90th percentile).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasbench.errors import NasbenchError, known

_OPT_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "layout": "ORT_ENABLE_LAYOUT",
    "all": "ORT_ENABLE_ALL",
}


@dataclass(frozen=True)
class Protocol:
    """How a latency is measured: onnxruntime CPU settings and the timing schedule.

    ``threads`` intra-op threads (inter-op 1, no spinning), ``graph_optimization`` one of disable, basic,
    extended, layout, all; ``warmup`` untimed runs per network, then ``rounds`` interleaved rounds of
    ``runs`` timed runs each.
    """

    threads: int = 1
    graph_optimization: str = "all"
    warmup: int = 3
    runs: int = 10
    rounds: int = 5
    opset: int = 18

    def __post_init__(self) -> None:
        if self.graph_optimization not in _OPT_LEVELS:
            raise NasbenchError(f"graph_optimization {self.graph_optimization!r} is not allowed {known(_OPT_LEVELS)}")
        for name in ("threads", "runs", "rounds"):
            if getattr(self, name) < 1:
                raise NasbenchError(f"protocol: {name} must be ≥ 1, got {getattr(self, name)}")
        if self.warmup < 0:
            raise NasbenchError(f"protocol: warmup must be ≥ 0, got {self.warmup}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Stats:
    """Latency statistics over timed runs, in milliseconds."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    runs: int

    @classmethod
    def of(cls, samples_ms: list[float]) -> Stats:
        a = np.asarray(samples_ms, dtype=np.float64)
        p10, median, p90 = np.percentile(a, [10, 50, 90])
        return cls(round(float(median), 5), round(float(p10), 5), round(float(p90), 5), int(a.size))


def device_name() -> str:
    """A description of this machine's CPU, e.g. ``'AMD EPYC (2 cores, x86_64)'``."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import os

    return f"{model} ({os.cpu_count()} cores, {platform.machine()})"


def runtime_info(protocol: Protocol) -> dict[str, Any]:
    """The session settings recorded with every measurement."""
    import onnxruntime as ort

    return {
        "runtime": f"onnxruntime {ort.__version__}",
        "execution_provider": "CPUExecutionProvider",
        "threads": protocol.threads,
        "graph_optimization": protocol.graph_optimization,
        "dtype": "float32",
    }


class TimedSession:
    """An onnxruntime CPU session bound to a fixed random input (I/O binding: no copies per run)."""

    def __init__(self, onnx_path: str | Path, protocol: Protocol, seed: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = protocol.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _OPT_LEVELS[protocol.graph_optimization])
        options.log_severity_level = 3
        # Spinning threads burn the other core while waiting and distort timings on a shared machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        shape = [int(d) for d in inp.shape]
        data = np.random.default_rng(seed).random(shape, dtype=np.float32)
        self.binding = self.session.io_binding()
        self.binding.bind_ortvalue_input(inp.name, ort.OrtValue.ortvalue_from_numpy(data))
        for out in self.session.get_outputs():
            self.binding.bind_output(out.name)

    def run(self) -> None:
        self.session.run_with_iobinding(self.binding)

    def time_ms(self, runs: int) -> list[float]:
        samples = []
        for _ in range(runs):
            start = time.perf_counter_ns()
            self.session.run_with_iobinding(self.binding)
            samples.append((time.perf_counter_ns() - start) / 1e6)
        return samples


def time_interleaved(
    sessions: Mapping[str, TimedSession],
    protocol: Protocol,
    samples: dict[str, list[float]] | None = None,
    start_round: int = 0,
    on_round: Callable[[int, dict[str, list[float]]], None] | None = None,
    progress: Any = None,
) -> dict[str, list[float]]:
    """Time every session: warm-up, then ``protocol.rounds`` rounds of ``protocol.runs`` runs each.

    ``samples`` and ``start_round`` continue an interrupted measurement; ``on_round(round, samples)`` is
    called after each completed round (checkpointing); ``progress`` is a tqdm bar advanced per burst.
    """
    samples = {key: list(samples.get(key, [])) if samples else [] for key in sessions}
    for session in sessions.values():
        for _ in range(protocol.warmup):
            session.run()
    for r in range(start_round, protocol.rounds):
        for key, session in sessions.items():
            samples[key].extend(session.time_ms(protocol.runs))
            if progress is not None:
                progress.update(1)
        if on_round is not None:
            on_round(r + 1, samples)
    return samples
