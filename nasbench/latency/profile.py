"""Building a latency table by measuring every distinct block signature and the skeleton.

Each distinct :class:`BlockKey` of a space (block, options, channels, height, width) is exported once as
a one-block ONNX model at its shape; the skeleton (the backbone with every block the identity) is exported
at the input size. All of them are then timed together, interleaved (see ``runtime.time_interleaved``).

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
from nasbench.latency.runtime import Protocol, Stats, TimedSession, device_name, runtime_info, time_interleaved
from nasbench.latency.table import BlockKey, Entry, LatencyTable, LatencyTableError, SkeletonKey
from nasbench.space import SearchSpace

CHECKPOINT = "profile-checkpoint.json"


def _file_name(key: BlockKey | SkeletonKey) -> str:
    return hashlib.sha1(str(key).encode()).hexdigest()[:16] + ".onnx"


def _export(space: SearchSpace, key: BlockKey | SkeletonKey, path: Path, opset: int) -> None:
    if path.exists():
        return
    if isinstance(key, SkeletonKey):
        export_onnx(space.skeleton(), path, (1, space.backbone_config.in_channels, key.height, key.width), opset=opset)
    else:
        block = create_block(key.block, key.channels, **dict(key.options))
        export_onnx(block, path, (1, key.channels, key.height, key.width), opset=opset)


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
    **protocol_overrides: Any,
) -> LatencyTable:
    """Measure every entry ``space`` needs at ``input_size`` ((H, W), (C, H, W) or (N, C, H, W)).

    Entries already in ``base`` are not measured again; the result contains them too. ``device`` names
    the machine in the metadata (default: this CPU's model). ``work_dir`` makes the run resumable.
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

    with ExitStack() as stack:
        work = (
            Path(work_dir)
            if work_dir
            else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nasbench-profile-")))
        )
        work.mkdir(parents=True, exist_ok=True)
        names = {str(k): _file_name(k) for k in todo}
        state = _resume(work / CHECKPOINT, protocol, names)
        bar = stack.enter_context(
            tqdm(
                total=len(todo) * (1 + protocol.rounds), desc=f"profile {space.name}", unit="step", disable=not progress
            )
        )
        sessions = {}
        for key in todo:
            bar.set_postfix_str(str(key)[:60])
            _export(space, key, work / names[str(key)], protocol.opset)
            sessions[str(key)] = TimedSession(work / names[str(key)], protocol)
            bar.update(1)
        bar.update(len(todo) * state["round"])

        def checkpoint(done: int, samples: dict[str, list[float]]) -> None:
            _write_json(work / CHECKPOINT, {**state, "round": done, "samples": samples})

        samples = time_interleaved(
            sessions, protocol, state["samples"], start_round=state["round"], on_round=checkpoint, progress=bar
        )
    by_name = {str(k): k for k in todo}
    for name, values in samples.items():
        key = by_name[name]
        stats = Stats.of(values)
        entry = Entry(stats.median_ms, stats.p10_ms, stats.p90_ms, stats.runs)
        (table.skeletons if isinstance(key, SkeletonKey) else table.blocks)[key] = entry  # type: ignore[index]
    return table


def _resume(path: Path, protocol: Protocol, names: dict[str, str]) -> dict[str, Any]:
    fresh = {"version": 1, "protocol": protocol.to_dict(), "keys": sorted(names), "round": 0, "samples": {}}
    if not path.exists():
        return fresh
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LatencyTableError(f"{path}: unreadable profiling checkpoint ({exc}); delete it to start over") from None
    if state.get("protocol") != fresh["protocol"] or state.get("keys") != fresh["keys"]:
        raise LatencyTableError(
            f"{path}: this checkpoint was made with other settings or another space; "
            "delete it or use another work directory"
        )
    return state
