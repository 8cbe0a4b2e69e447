"""ONNX export with a pinned exporter and opset, and onnxruntime verification."""

from __future__ import annotations

import ast
import copy
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nasbench.cost import input_shape
from nasbench.errors import ExportError

#: The opset nasbench exports and profiles with: the lowest the torch ≥ 2.9 (dynamo) exporter emits
#: natively; mobile converters handle it better than the default 20 (no Gelu / Attention ops).
DEFAULT_OPSET = 18


@dataclass(frozen=True)
class OnnxCheck:
    """Agreement between PyTorch and onnxruntime on one random input."""

    max_abs_diff: float
    op_types: tuple[str, ...]


def export_onnx(model: nn.Module, path: str | Path, input_size: Sequence[int], opset: int = DEFAULT_OPSET) -> Path:
    """Export ``model`` (in eval mode, on a copy) to a single ONNX file for a fixed N×C×H×W input.

    Uses torch's dynamo exporter at ``opset`` (default 18) with weights embedded in the file. The input
    is named ``input`` and the output ``output``. Node names start with the search-space position they
    implement (``enc2.1/node_Conv_12``) when the model was built by ``SearchSpace.build``, otherwise with
    the top-level module (``intro/...``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(model).eval()
    example = torch.randn(input_shape(input_size))
    tmp = path.with_name(path.name + ".tmp")
    try:
        with warnings.catch_warnings(), _quiet_exporter():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (example,),
                str(tmp),
                dynamo=True,
                opset_version=opset,
                external_data=False,
                input_names=["input"],
                output_names=["output"],
                verbose=False,
            )
    except Exception as exc:  # the exporter raises many unrelated types; report them as one
        tmp.unlink(missing_ok=True)
        raise ExportError(f"{path}: ONNX export failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    _name_nodes_by_position(tmp, getattr(model, "position_names", {}))
    tmp.replace(path)
    return path


def _node_prefix(node: Any, position_names: dict[str, str]) -> str | None:
    """The position (or top-level module) a node came from, read from its module scopes; None if unknown."""
    scopes = next((p.value for p in node.metadata_props if p.key == "pkg.torch.onnx.name_scopes"), None)
    if not scopes:
        return None
    try:
        # [root '', module paths outermost first ..., the node's own name]
        paths = [s for s in ast.literal_eval(scopes)[1:-1] if isinstance(s, str) and s]
    except (ValueError, SyntaxError):
        return None
    position = next((position_names[s] for s in reversed(paths) if s in position_names), None)
    return position or (paths[0] if paths else "top")


def _name_nodes_by_position(path: Path, position_names: dict[str, str]) -> None:
    """Prefix node names *and* the tensors they produce with the position (``enc2.1/``) or top-level module
    (``intro/``) they came from.

    The dynamo exporter records each node's module path in ``pkg.torch.onnx.name_scopes``. Nodes its
    optimiser created without that record (e.g. ``Split``) take the prefix of the node producing their
    first input. Tensor names matter too: onnxruntime's layout pass and TFLite name fused operators after
    their output tensors, so prefixing both keeps profiles attributable to positions.
    """
    import onnx

    proto = onnx.load(str(path))
    graph = proto.graph
    keep = {v.name for v in (*graph.input, *graph.output)} | {t.name for t in graph.initializer}
    producer: dict[str, str] = {}
    renamed: dict[str, str] = {}
    for node in graph.node:
        prefix = _node_prefix(node, position_names)
        if prefix is None:
            prefix = next((producer[i] for i in node.input if i in producer), "top")
        node.name = f"{prefix}/{node.name}"
        for out in node.output:
            producer[out] = prefix
            if out and out not in keep:
                renamed[out] = f"{prefix}/{out}"
    for node in graph.node:
        node.input[:] = [renamed.get(i, i) for i in node.input]
        node.output[:] = [renamed.get(o, o) for o in node.output]
    for info in graph.value_info:
        info.name = renamed.get(info.name, info.name)
    onnx.save(proto, str(path))


class _quiet_exporter:
    """Silence the dynamo exporter's progress logging."""

    def __enter__(self) -> None:
        self._levels = {}
        for name in ("torch.onnx", "torch._dynamo", "torch.export", "onnxscript"):
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)


def onnx_session(path: str | Path, threads: int = 1):  # noqa: ANN201 (onnxruntime is typed loosely)
    """An onnxruntime CPU session with fixed thread counts."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def verify_onnx(model: nn.Module, path: str | Path, input_size: Sequence[int], seed: int = 0) -> OnnxCheck:
    """Run the ONNX file in onnxruntime and PyTorch on the same random input; report the max difference."""
    import onnx

    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(input_shape(input_size), generator=generator)
    with torch.no_grad():
        expected = copy.deepcopy(model).eval()(x).numpy()
    session = onnx_session(path)
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    if got.shape != expected.shape:
        raise ExportError(f"{path}: onnxruntime output shape {got.shape} differs from PyTorch {expected.shape}")
    graph = onnx.load(str(path)).graph
    return OnnxCheck(float(np.abs(got - expected).max()), tuple(sorted({n.op_type for n in graph.node})))
