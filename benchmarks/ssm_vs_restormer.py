"""The `ssm` block against the `restormer` block it replaces (ENS): onnxruntime latency per block signature.

    python benchmarks/ssm_vs_restormer.py            # restormer_tiny at 64² and 256², restormer at 256²; 5 repeats
    python benchmarks/ssm_vs_restormer.py --quick    # restormer_tiny at 64² only, one repeat

A signature is a position's channels and resolution with both candidates' options as the space gives them
(Restormer's heads per stage; `ssm` {head_dim: 16} in restormer_tiny, its defaults in restormer). Each
signature's two blocks are timed together with `nasbench.latency.measure_latencies` — ONNX opset 18, the
default Protocol (1 thread, rounds of interleaved runs) — and the sweep is repeated `--repeats` times with
the signature order rotated and the two blocks swapped each time. The table gives the medians over the
repeats. Target (issue "ENS"): ssm ≤ 0.8× restormer at every signature.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from typing import Any

from report import table, write_section

import nasbench
from nasbench.cost import count_macs
from nasbench.latency import Protocol, measure_latencies

TARGET = 0.8
SWEEPS = {
    "full": (("restormer_tiny", 64), ("restormer_tiny", 256), ("restormer", 256)),
    "quick": (("restormer_tiny", 64),),
}


@dataclass(frozen=True)
class Signature:
    space: str
    side: int
    channels: int
    resolution: int
    options: dict[str, dict[str, Any]]  # candidate label → block options, e.g. {"restormer": {...}, "ssm": {...}}
    blocks: dict[str, str]  # candidate label → registry block name

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.side // self.resolution, self.side // self.resolution)

    def build(self) -> dict[str, Any]:
        return {
            label: nasbench.create_block(self.blocks[label], self.channels, **opts)
            for label, opts in self.options.items()
        }


def signatures(space_name: str, side: int) -> list[Signature]:
    """The distinct (channels, resolution, options) of a space's positions, in backbone order."""
    seen: dict[tuple[Any, ...], Signature] = {}
    for position in nasbench.load_space(space_name).positions:
        labels = {c.label: c for c in position.candidates}
        if not {"restormer", "ssm"} <= set(labels):
            continue
        key = (position.channels, position.resolution, labels["restormer"].options, labels["ssm"].options)
        seen.setdefault(
            key,
            Signature(
                space_name,
                side,
                position.channels,
                position.resolution,
                {label: labels[label].kwargs for label in ("restormer", "ssm")},
                {label: labels[label].block for label in ("restormer", "ssm")},
            ),
        )
    return list(seen.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 5)
    sigs = [s for space, side in SWEEPS["quick" if args.quick else "full"] for s in signatures(space, side)]
    protocol = Protocol()
    samples: list[dict[str, list[float]]] = [{"restormer": [], "ssm": [], "ratio": []} for _ in sigs]
    start = time.perf_counter()
    for r in range(repeats):
        order = list(range(len(sigs)))
        order = order[r % len(order) :] + order[: r % len(order)]
        for i in order:
            sig = sigs[i]
            models = sig.build()
            if r % 2:
                models = dict(reversed(models.items()))
            result = measure_latencies(models, sig.shape, protocol)
            ms = {label: result[label].median_ms for label in ("restormer", "ssm")}
            samples[i]["restormer"].append(ms["restormer"])
            samples[i]["ssm"].append(ms["ssm"])
            samples[i]["ratio"].append(ms["ssm"] / ms["restormer"])
            print(
                f"repeat {r + 1}/{repeats}  {sig.space}@{sig.side}²  C={sig.channels} {sig.shape[1]}²  "
                f"restormer {ms['restormer']:.2f} ms  ssm {ms['ssm']:.2f} ms  ratio {ms['ssm'] / ms['restormer']:.2f}",
                flush=True,
            )
    rows = []
    for sig, s in zip(sigs, samples, strict=True):
        blocks = sig.build()
        macs = {label: count_macs(block, sig.shape) for label, block in blocks.items()}
        ratio = statistics.median(s["ratio"])
        ssm_options = ", ".join(f"{k}: {v}" for k, v in sig.options["ssm"].items()) or "defaults"
        rows.append(
            {
                "space @ input": f"{sig.space} @ {sig.side}²",
                "C @ H×W": f"{sig.channels} @ {sig.shape[1]}×{sig.shape[2]}",
                "restormer heads": sig.options["restormer"].get("heads", "—"),
                "ssm options": ssm_options,
                "restormer ms": f"{statistics.median(s['restormer']):.2f}",
                "ssm ms": f"{statistics.median(s['ssm']):.2f}",
                "ratio ssm/restormer": f"**{ratio:.2f}**" if ratio > TARGET else f"{ratio:.2f}",
                "ratio range": f"{min(s['ratio']):.2f}–{max(s['ratio']):.2f}",
                "MACs ratio": f"{macs['ssm'] / macs['restormer']:.2f}",
            }
        )
    worst = max(range(len(sigs)), key=lambda i: statistics.median(samples[i]["ratio"]))
    worst_ratio = statistics.median(samples[worst]["ratio"])
    met = sum(statistics.median(s["ratio"]) <= TARGET for s in samples)
    body = (
        table(rows) + f"\n\n**{met} of {len(sigs)} signatures at ≤ {TARGET}× (target: all); worst "
        f"{worst_ratio:.2f}× at {sigs[worst].space} @ {sigs[worst].side}², C={sigs[worst].channels}.** "
        f"Blocks timed alone (N=1), onnxruntime CPU, {protocol.threads} thread, graph optimisation "
        f"{protocol.graph_optimization}, {protocol.rounds} rounds × {protocol.runs} runs after {protocol.warmup} "
        f"warm-up runs per measurement; ratio = median over {repeats} repeat(s) of ssm ms / restormer ms "
        f"from the same interleaved measurement, range = min–max over the repeats. MACs (matmuls and convs, "
        f"`nasbench.cost.count_macs`) for comparison. Wall time {(time.perf_counter() - start) / 60:.1f} min.\n"
    )
    print(body)
    write_section("ssm-vs-restormer", "The `ssm` block vs the `restormer` block (ENS)", body)


if __name__ == "__main__":
    main()
