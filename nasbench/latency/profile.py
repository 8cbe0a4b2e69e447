"""Building a latency table by measuring every distinct block signature and the skeleton.

Each distinct :class:`BlockKey` of a space (block, options, channels, height, width) is exported once as
a one-block ONNX model at its shape; the skeleton (the backbone with every block the identity) is exported
at the input size. All of them are then timed together, interleaved (see ``runtime.time_interleaved``).

With ``context=True`` every block entry is measured in context instead (:mod:`nasbench.latency.context`):
the skeleton with every position that can take the signature set to it, minus the skeleton, per copy.

With ``work_dir`` the run is resumable: ONNX files and the timing samples of every completed round are
kept there (written atomically), and a rerun with the same settings continues where the last one stopped.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from nasbench.blocks import create_block
from nasbench.cost import input_shape
from nasbench.deploy.onnx import export_onnx
from nasbench.latency.context import context_choices, context_entry, context_network
from nasbench.latency.runtime import Protocol, Stats, TimedSession, device_name, runtime_info, time_interleaved
from nasbench.latency.table import BlockKey, Entry, LatencyTable, LatencyTableError, SkeletonKey, skeleton_key
from nasbench.space import SearchSpace

CHECKPOINT = "profile-checkpoint.json"


def _file_name(key: BlockKey | SkeletonKey, context: bool) -> str:
    name = f"context {key}" if context and isinstance(key, BlockKey) else str(key)
    return hashlib.sha1(name.encode()).hexdigest()[:16] + ".onnx"


def _export(
    space: SearchSpace,
    key: BlockKey | SkeletonKey,
    path: Path,
    opset: int,
    size: tuple[int, int],
    choices: dict[str, str] | None,
) -> None:
    """Export the network that measures ``key``: a block alone at its shape, the skeleton at ``size``
    (H, W), or — with ``choices`` — the block's context network at ``size``."""
    if path.exists():
        return
    if isinstance(key, BlockKey) and choices is None:
        block = create_block(key.block, key.channels, **dict(key.options))
        export_onnx(block, path, (1, key.channels, key.height, key.width), opset=opset)
        return
    model = space.skeleton() if isinstance(key, SkeletonKey) else context_network(space, choices or {})
    export_onnx(model, path, (1, space.backbone_config.in_channels, *size), opset=opset)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(path)


def profile_space(
    space: SearchSpace,
    input_size: Sequence[int],
    protocol: Protocol | None = None,
    *,
    device: str | None = None,
    work_dir: str | Path | None = None,
    base: LatencyTable | None = None,
    progress: bool = True,
    context: bool = False,
    **protocol_overrides: Any,
) -> LatencyTable:
    """Measure every entry ``space`` needs at ``input_size`` ((H, W), (C, H, W) or (N, C, H, W)).

    Entries already in ``base`` are not measured again; the result contains them too. ``device`` names
    the machine in the metadata (default: this CPU's model). ``work_dir`` makes the run resumable.
    ``context=True`` measures the block entries in context (metadata ``block_context: skeleton``).
    """
    protocol = Protocol(**{**(protocol or Protocol()).to_dict(), **protocol_overrides})
    size = tuple(int(s) for s in input_size)
    h, w = (size[-2], size[-1]) if len(size) >= 2 else (size[0], size[0])
    input_shape((space.backbone_config.in_channels, h, w))
    table = LatencyTable(
        metadata={
            "device": device or device_name(),
            **runtime_info(protocol),
            "batch": 1,
            "opset": protocol.opset,
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "protocol": protocol.to_dict(),
            "source": "measured",
            "space": space.name,
            **({"block_context": "skeleton"} if context else {}),
        },
        input_size=(h, w),
    )
    if base is not None:
        table = base.merge(table) if base.blocks or base.skeletons else table
    todo: list[BlockKey | SkeletonKey] = []
    for needed in table.required(space, None, (h, w)):
        if table._lookup(needed.key) is None and needed.key not in todo:
            todo.append(needed.key)
    if not todo:
        return table
    choices = context_choices(space, table, (h, w)) if context else {}
    reference = skeleton_key(space, h, w)
    # in context, block entries are differences to the skeleton, which must be timed alongside them
    timed = [*todo, reference] if choices and reference not in todo else todo

    with ExitStack() as stack:
        work = (
            Path(work_dir)
            if work_dir
            else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nasbench-profile-")))
        )
        work.mkdir(parents=True, exist_ok=True)
        names = {str(k): _file_name(k, context) for k in timed}
        state = _resume(work / CHECKPOINT, protocol, names, context)
        bar = stack.enter_context(
            tqdm(
                total=len(timed) * (1 + protocol.rounds),
                desc=f"profile {space.name}",
                unit="step",
                disable=not progress,
            )
        )
        sessions = {}
        for key in timed:
            bar.set_postfix_str(str(key)[:60])
            path = work / names[str(key)]
            _export(space, key, path, protocol.opset, (h, w), choices.get(key) if isinstance(key, BlockKey) else None)
            sessions[str(key)] = TimedSession(path, protocol)
            bar.update(1)
        bar.update(len(timed) * state["round"])

        def checkpoint(done: int, samples: dict[str, list[float]]) -> None:
            _write_json(work / CHECKPOINT, {**state, "round": done, "samples": samples})

        samples = time_interleaved(
            sessions, protocol, state["samples"], start_round=state["round"], on_round=checkpoint, progress=bar
        )
    stats = {name: Stats.of(values) for name, values in samples.items()}
    for key in todo:
        st = stats[str(key)]
        if isinstance(key, SkeletonKey):
            table.skeletons[key] = Entry(st.median_ms, st.p10_ms, st.p90_ms, st.runs)
        elif context:
            table.blocks[key] = context_entry(st, stats[str(reference)], len(choices[key]))
        else:
            table.blocks[key] = Entry(st.median_ms, st.p10_ms, st.p90_ms, st.runs)
    return table


def _resume(path: Path, protocol: Protocol, names: dict[str, str], context: bool) -> dict[str, Any]:
    fresh = {"version": 1, "protocol": protocol.to_dict(), "keys": sorted(names), "round": 0, "samples": {}}
    if context:
        fresh["context"] = True
    if not path.exists():
        return fresh
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LatencyTableError(f"{path}: unreadable profiling checkpoint ({exc}); delete it to start over") from None
    if any(state.get(k) != fresh.get(k) for k in ("protocol", "keys", "context")):
        raise LatencyTableError(
            f"{path}: this checkpoint was made with other settings or another space; "
            "delete it or use another work directory"
        )
    return state
