"""Baseline vs found: the ``summary.json`` every recipe and the quickstart write (API.md).

Each architecture is trained with the same fine-tuning budget — from scratch, or from given starting
weights (``init``: e.g. the found network's stitched teacher + surrogate weights and the baseline's
teacher weights) — BatchNorm-folded, exported, timed end to end in onnxruntime together with the others
(interleaved, so ratios are fair), and evaluated on the same validation images.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from nasbench.cost import count_macs, count_params
from nasbench.deploy import export_onnx, fold_batchnorm
from nasbench.errors import ModelError, NasbenchError
from nasbench.latency import LatencyTable, Protocol, measure_latencies
from nasbench.space import Architecture, SearchSpace
from nasbench.train import evaluate, finetune


def compare_architectures(
    space: SearchSpace,
    architectures: Mapping[str, Architecture],
    train_data: Dataset,
    val_pairs: Sequence[tuple[torch.Tensor, torch.Tensor]],
    latency_table: LatencyTable,
    *,
    finetune_steps: int,
    input_size: Sequence[int] | None = None,
    protocol: Protocol | None = None,
    seed: int = 0,
    progress: bool = True,
    output: str | Path | None = None,
    init: Mapping[str, Init] | None = None,
    **finetune_options: Any,
) -> dict[str, dict[str, Any]]:
    """Train, time and evaluate each named architecture with one budget; one API.md ``M`` dict per name:
    architecture, params, macs, latency_ms (measured), predicted_latency_ms, psnr_db, ssim.

    ``init`` gives networks their starting weights by name: a state dict of ``space.build(arch)`` (e.g.
    ``Surrogates.stitch(teacher, arch).state_dict()``, or the teacher's for the baseline), or a callable
    ``fn(model)`` that sets them in place; names not in ``init`` start from their seeded random
    initialisation (from scratch). With ``output``, each trained network is written there as
    ``<name>.pt`` (the folded state dict, loadable with ``torch.load(..., weights_only=True)`` into
    ``fold_batchnorm(space.build(arch))``) and ``<name>.onnx``."""
    init = dict(init or {})
    unknown = sorted(set(init) - set(architectures))
    if unknown:
        raise NasbenchError(
            f"compare_architectures: init names {unknown} are not among the architectures {sorted(architectures)}"
        )
    h, w = latency_table.resolve_size(input_size)
    shape = (1, space.backbone_config.in_channels, h, w)
    protocol = protocol or Protocol(**latency_table.metadata.get("protocol", {}))
    timed: dict[str, nn.Module | Path] = {}
    out: dict[str, dict[str, Any]] = {}
    for name, arch in architectures.items():
        torch.manual_seed(seed)
        model = space.build(arch)
        if name in init:
            _initialise(model, init[name], name)
        result = finetune(
            model, train_data, val_pairs, steps=finetune_steps, seed=seed, progress=progress, **finetune_options
        )
        model = fold_batchnorm(result.model).eval()
        timed[name] = model
        if output is not None:
            Path(output).mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), Path(output) / f"{name}.pt")
            # The written file is the one timed below: one export per network, not two.
            timed[name] = export_onnx(model, Path(output) / f"{name}.onnx", shape, opset=protocol.opset)
        quality = evaluate(model, val_pairs)
        out[name] = {
            "architecture": str(arch),
            "params": count_params(model),
            "macs": count_macs(model, shape),
            "latency_ms": 0.0,
            "predicted_latency_ms": latency_table.predict(space, arch, (h, w)),
            "psnr_db": quality["psnr_db"],
            "ssim": quality["ssim"],
        }
    for name, measurement in measure_latencies(timed, shape, protocol).items():
        out[name]["latency_ms"] = measurement.median_ms
    return out


Init = Mapping[str, torch.Tensor] | Callable[[nn.Module], None]


def _initialise(model: nn.Module, init: Init, name: str) -> None:
    """Load starting weights ``init`` (a state dict or ``fn(model)``) into network ``name``."""
    if callable(init):
        init(model)
        return
    if not isinstance(init, Mapping):
        raise NasbenchError(
            f"compare_architectures: init[{name!r}] must be a state dict or a callable, got {type(init).__name__}"
        )
    try:
        model.load_state_dict(init)
    except RuntimeError as exc:
        line = str(exc).strip().splitlines()[0]
        raise ModelError(f"compare_architectures: init[{name!r}] does not fit its architecture: {line}") from None


def format_summary(summary: dict[str, Any]) -> str:
    """The baseline-vs-found table printed by the CLI."""
    lines = [f"{'':9} {'params':>10} {'GMACs':>7} {'latency ms':>11} {'predicted':>10} {'PSNR dB':>8} {'SSIM':>7}"]
    for name in ("baseline", "found"):
        m = summary[name]
        lines.append(
            f"{name:9} {m['params']:>10,} {m['macs'] / 1e9:>7.2f} {m['latency_ms']:>11.2f} "
            f"{m['predicted_latency_ms']:>10.2f} {m['psnr_db']:>8.2f} {m['ssim']:>7.4f}"
        )
    base, found = summary["baseline"], summary["found"]
    lines.append(f"found: {found['architecture']}")
    lines.append(
        f"speed-up {base['latency_ms'] / found['latency_ms']:.2f}× (measured, onnxruntime), "
        f"PSNR {found['psnr_db'] - base['psnr_db']:+.2f} dB"
    )
    return "\n".join(lines)
