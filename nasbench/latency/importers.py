"""Importing per-op / per-layer profiles measured elsewhere (a phone, another runtime) into a ``LatencyTable``.

A profile measures ONE network — an architecture of a space — at one input size. Every profiled node
is attributed to a position by its name: the text before the first ``/`` (``enc2.0/node_Conv_268``)
names the position, as :func:`nasbench.export_onnx` writes it. Everything else (``intro/``,
``downs.0/``, ``top/``, and nodes whose names no longer carry a prefix after graph optimisation) is the
skeleton; the part of it that carries no recognisable prefix at all is reported as ``unattributed_ms``.

Per run, the node times of each position are summed; statistics over runs (median, 10th and 90th
percentile, in milliseconds) become one block entry per position's candidate signature and one
skeleton entry. Positions whose candidates share a signature (block, options, channels, height, width)
share an entry: the samples of all of them are pooled. Formats: ``ort_json`` (onnxruntime profiling),
``tflite`` (``benchmark_model --enable_op_profiling``), ``csv`` (a plain per-position or per-signature
CSV for any other tool). ``docs/latency-import.md`` describes how to produce each.
"""

from __future__ import annotations

import bisect
import csv
import json
import math
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nasbench.blocks.registry import block_info, check_options
from nasbench.errors import BlockError, known, suggest
from nasbench.latency.runtime import Stats
from nasbench.latency.table import (
    BlockKey,
    Entry,
    LatencyTable,
    LatencyTableError,
    SkeletonKey,
    _options_key,
    block_key,
    skeleton_key,
)
from nasbench.registry import Registry
from nasbench.space import Architecture, SearchSpace

#: The part name of everything that is not a block position (CSV rows use it too).
SKELETON = "skeleton"
#: The prefix ``export_onnx`` gives nodes that belong to no module (the backbone's own adds, pads).
_EXPORT_ROOT = "top"
#: Warn when more than this share of the node time carries no recognisable prefix.
_UNATTRIBUTED_WARN_SHARE = 0.1
#: Metadata keys the importer sets; the user's ``metadata`` may not set them.
_RESERVED_KEYS = ("source", "file", "space", "architecture", "date")


@dataclass(frozen=True)
class Series:
    """Times of one part of the network in milliseconds: one sample per run, or (for formats that report
    averages) one average standing for ``runs`` runs."""

    samples_ms: tuple[float, ...]
    runs: int


@dataclass
class Profile:
    """What an importer read: times per part (a position name, :data:`SKELETON` or a block signature).

    ``runs`` is the number of network runs the profile covers, ``details`` format-specific metadata
    (end-to-end time, unattributed time, ...), and ``hint`` says how a position could have been missed,
    with ``{position}`` standing for its name.
    """

    parts: dict[str | BlockKey, Series]
    runs: int
    hint: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportRequest:
    """The file to import and what it measured."""

    path: Path
    format: str
    space: SearchSpace | None
    architecture: Architecture | None
    height: int
    width: int
    skip_runs: int

    def space_and_arch(self, what: str) -> tuple[SearchSpace, Architecture]:
        """The space and architecture, which attributing ``what`` needs."""
        if self.space is None or self.architecture is None:
            raise LatencyTableError(
                f"{self.path}: importing {what} needs the search space and the architecture that was profiled"
            )
        return self.space, self.architecture

    def no_skipping(self, why: str) -> None:
        if self.skip_runs:
            raise LatencyTableError(f"{self.path}: skip_runs={self.skip_runs} cannot apply: {why}")


Importer = Callable[[ImportRequest], Profile]
_IMPORTERS: Registry[Importer] = Registry("profile format", LatencyTableError)


def register_importer(name: str) -> Callable[[Importer], Importer]:
    """Decorator: make ``importer(request) -> Profile`` available as ``import_profile(..., format=name)``."""
    return _IMPORTERS.register(name)


def list_formats() -> list[str]:
    """Names of the profile formats :func:`import_profile` reads."""
    return _IMPORTERS.names()


def import_profile(
    path: str | Path,
    format: str,
    space: SearchSpace | None,
    architecture: Architecture | str | None,
    input_size: Sequence[int],
    *,
    metadata: dict[str, Any] | None = None,
    skip_runs: int = 0,
) -> LatencyTable:
    """A latency table from a profile of ``architecture`` of ``space`` at ``input_size`` ((H, W), (C, H, W)
    or (N, C, H, W)), in the given ``format`` (see :func:`list_formats`).

    ``metadata`` describes where the profile was measured (``device``, ``runtime``, ``threads``, ...); the
    importer adds ``source`` (the format), ``file``, ``space``, ``architecture``, ``date`` (of the import)
    and what the format reports (runs, end-to-end time, unattributed time). ``skip_runs`` drops that many
    runs from the start of per-run profiles: an onnxruntime profile starts with the session, so it holds
    the warm-up runs. ``space`` and ``architecture`` may be None only for the signature form of ``csv``.
    """
    importer = _IMPORTERS.get(format)
    path = Path(path)
    size = tuple(int(s) for s in input_size)
    if len(size) < 2 or min(size[-2:]) < 1:
        raise LatencyTableError(f"input_size: expected (height, width) with positive sides, got {tuple(input_size)}")
    if isinstance(skip_runs, bool) or not isinstance(skip_runs, int) or skip_runs < 0:
        raise LatencyTableError(f"skip_runs must be an integer ≥ 0, got {skip_runs!r}")
    if isinstance(architecture, str):
        if space is None:
            raise LatencyTableError(f"{path}: an architecture string needs its search space")
        architecture = space.architecture(architecture)
    if space is not None and architecture is not None:
        space._check_arch(architecture)
    user = dict(metadata or {})
    clash = [k for k in _RESERVED_KEYS if k in user]
    if clash:
        raise LatencyTableError(f"metadata: {clash[0]!r} is set by the importer (it sets {', '.join(_RESERVED_KEYS)})")
    request = ImportRequest(path, format, space, architecture, size[-2], size[-1], skip_runs)
    profile = importer(request)
    clash = [k for k in profile.details if k in user]
    if clash:
        raise LatencyTableError(f"metadata: {clash[0]!r} is set by the {format} importer from the file")
    info: dict[str, Any] = {**user, "source": format, "file": path.name}
    if space is not None:
        info["space"] = space.name
    if architecture is not None:
        info["architecture"] = str(architecture)
    info["date"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    info.update(profile.details)
    table = LatencyTable(info, (request.height, request.width))
    for key, series in _group(request, profile).items():
        entry = _entry(series, format)
        (table.skeletons if isinstance(key, SkeletonKey) else table.blocks)[key] = entry  # type: ignore[index]
    return table


def _group(request: ImportRequest, profile: Profile) -> dict[BlockKey | SkeletonKey, list[Series]]:
    """The series of every table key: positions become their candidate's signature, so positions that
    share a signature pool their samples."""
    groups: dict[BlockKey | SkeletonKey, list[Series]] = {}
    if any(isinstance(part, str) for part in profile.parts):
        space, arch = request.space_and_arch("a per-position profile")
        h, w = request.height, request.width
        for position in space.positions:
            series = profile.parts.get(position.name)
            candidate = position.candidate(arch[position.name])
            if series is None:
                if "skip" not in block_info(candidate.block).tags:
                    raise LatencyTableError(
                        f"{request.path}: nothing in the profile is attributed to position {position.name} "
                        f"(candidate {candidate.label}); {profile.hint.format(position=position.name)}"
                    )
                # A skip block (identity) runs no operator, so the profile rightly shows nothing for it.
                series = Series((0.0,), profile.runs)
            groups.setdefault(block_key(space, position.name, candidate.label, h, w), []).append(series)
        if SKELETON not in profile.parts:
            raise LatencyTableError(
                f"{request.path}: nothing in the profile is attributed to the skeleton (nodes outside every "
                f"position, or CSV rows named '{SKELETON}')"
            )
        groups[skeleton_key(space, h, w)] = [profile.parts[SKELETON]]
    for part, series in profile.parts.items():
        if isinstance(part, BlockKey):
            groups.setdefault(part, []).append(series)
    return groups


def _entry(series: list[Series], source: str) -> Entry:
    stats = Stats.of([x for s in series for x in s.samples_ms])
    return Entry(stats.median_ms, stats.p10_ms, stats.p90_ms, sum(s.runs for s in series), source)


def _median(values: Iterable[float]) -> float:
    return Stats.of(list(values)).median_ms


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LatencyTableError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise LatencyTableError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None


# ---------------------------------------------------------------------- attribution by node name
class _Attribution:
    """Maps profiled node names to a position, the skeleton, or nothing recognisable (None)."""

    def __init__(self, space: SearchSpace) -> None:
        self.positions = {p.name for p in space.positions}
        # export_onnx prefixes the backbone's own nodes with their outermost module path (intro, downs.0).
        self.skeleton = {name for name, _ in space.skeleton().named_modules() if name} | {_EXPORT_ROOT}
        self._cache: dict[tuple[str, ...], str | None] = {}

    def part(self, names: tuple[str, ...]) -> str | None:
        """The part all ``names`` (one node, or the several a fused node lists) belong to."""
        if names not in self._cache:
            parts = {self._one(n) for n in names}
            self._cache[names] = parts.pop() if len(parts) == 1 else None
        return self._cache[names]

    def _one(self, name: str) -> str | None:
        prefix = name.split("/", 1)[0] if "/" in name else None
        if prefix in self.positions:
            return prefix
        return SKELETON if prefix in self.skeleton else None


def _attribution_details(
    path: Path, node_sum_ms: float, unattributed_ms: float, unattributed: set[str], hint: str
) -> dict[str, Any]:
    """Metadata on the time that could not be attributed; a warning when it is a large share."""
    if node_sum_ms > 0 and unattributed_ms / node_sum_ms > _UNATTRIBUTED_WARN_SHARE:
        examples = ", ".join(sorted(unattributed)[:5])
        warnings.warn(
            f"{path}: {unattributed_ms / node_sum_ms:.0%} of the node time ({unattributed_ms:g} ms per run in "
            f"{len(unattributed)} node(s), e.g. {examples}) carries no position prefix and was counted in "
            f"the skeleton; {hint.format(position='<position>')}",
            UserWarning,
            stacklevel=4,
        )
    return {"unattributed_ms": unattributed_ms, "unattributed_nodes": len(unattributed)}


# ---------------------------------------------------------------------- onnxruntime profiling JSON
_KERNEL_SUFFIX = "_kernel_time"
_WHITESPACE = re.compile(r"\s*")
_ORT_HINT = (
    "node names must start with '{position}/': export with nasbench.export_onnx and profile at "
    "graph_optimization_level ORT_ENABLE_EXTENDED or lower (the layout optimisation of ORT_ENABLE_LAYOUT "
    "and ORT_ENABLE_ALL renames nodes and drops the prefix)"
)


def _json_array(path: Path, text: str) -> list[tuple[int, Any]]:
    """The elements of a JSON array with the line each starts on (for error messages)."""
    decoder = json.JSONDecoder()

    def skip(i: int) -> int:
        return _WHITESPACE.match(text, i).end()  # type: ignore[union-attr]

    def fail(i: int, message: str) -> LatencyTableError:
        return LatencyTableError(f"{path}: line {text.count(chr(10), 0, i) + 1}: {message}")

    i = skip(0)
    if not text.startswith("[", i):
        raise fail(i, "expected a JSON array of trace events (an onnxruntime profile)")
    items: list[tuple[int, Any]] = []
    i = skip(i + 1)
    if text.startswith("]", i):
        return items
    line, last = 1, 0
    while True:
        line += text.count("\n", last, i)
        last = i
        try:
            item, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise LatencyTableError(f"{path}: line {exc.lineno}: malformed JSON: {exc.msg}") from None
        items.append((line, item))
        i = skip(i)
        if text.startswith("]", i):
            break
        if not text.startswith(",", i):
            raise fail(i, "malformed JSON: expected ',' or ']' after an event")
        i = skip(i + 1)
    if skip(i + 1) != len(text):
        raise fail(skip(i + 1), "malformed JSON: extra data after the event array")
    return items


def _number(event: dict[str, Any], key: str, where: str) -> float:
    value = event.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise LatencyTableError(f"{where}: {key!r} must be a number ≥ 0 (µs), got {value!r}")
    return float(value)


@register_importer("ort_json")
def _import_ort_json(request: ImportRequest) -> Profile:
    """onnxruntime's profiling JSON (``SessionOptions.enable_profiling``): a Chrome-trace array whose
    ``Node`` events named ``<node>_kernel_time`` carry ``dur`` in µs and whose ``model_run`` events
    delimit the runs. ``_fence_before`` / ``_fence_after`` events are ignored."""
    space, _ = request.space_and_arch("an onnxruntime profile")
    path = request.path
    runs: list[tuple[float, float]] = []
    nodes: list[tuple[str, float, float, str]] = []  # (where, ts, dur, node name)
    for index, (line, event) in enumerate(_json_array(path, _read(path))):
        where = f"{path}: event {index} (line {line})"
        if not isinstance(event, dict):
            raise LatencyTableError(f"{where}: expected a trace event (a JSON object), got {event!r:.40}")
        name = event.get("name")
        if event.get("cat") == "Session" and name == "model_run":
            start = _number(event, "ts", where)
            runs.append((start, start + _number(event, "dur", where)))
        elif event.get("cat") == "Node":
            if not isinstance(name, str):
                raise LatencyTableError(f"{where}: a Node event needs a 'name' string, got {name!r}")
            if name.endswith(_KERNEL_SUFFIX):
                nodes.append((where, _number(event, "ts", where), _number(event, "dur", where), name))
    if not runs:
        raise LatencyTableError(
            f"{path}: no 'model_run' events: not an onnxruntime profile of inference runs "
            "(enable SessionOptions.enable_profiling, run, then call session.end_profiling())"
        )
    runs.sort()
    if request.skip_runs >= len(runs):
        raise LatencyTableError(f"{path}: the profile has {len(runs)} runs; skip_runs={request.skip_runs} leaves none")
    starts = [start for start, _ in runs]
    kept = range(request.skip_runs, len(runs))
    per_run: list[dict[str, float]] = [{} for _ in runs]
    totals = [0.0] * len(runs)
    lost = [0.0] * len(runs)
    unattributed: set[str] = set()
    attribution = _Attribution(space)
    for where, ts, dur, name in nodes:
        run = bisect.bisect_right(starts, ts) - 1
        if run < 0 or ts > runs[run][1]:
            raise LatencyTableError(f"{where}: node event at ts={ts:g} µs lies outside every model_run")
        node = name[: -len(_KERNEL_SUFFIX)]
        part = attribution.part((node,))
        ms = dur / 1000.0
        totals[run] += ms
        if part is None:
            lost[run] += ms
            unattributed.add(node)
        part = part or SKELETON
        per_run[run][part] = per_run[run].get(part, 0.0) + ms
    seen = {part for r in kept for part in per_run[r]}
    parts: dict[str | BlockKey, Series] = {
        part: Series(tuple(per_run[r].get(part, 0.0) for r in kept), len(kept)) for part in seen
    }
    node_sum = _median(totals[r] for r in kept)
    end_to_end = _median((runs[r][1] - runs[r][0]) / 1000.0 for r in kept)
    details: dict[str, Any] = {
        "runs": len(kept),
        "skipped_runs": request.skip_runs,
        "end_to_end_ms": end_to_end,
        "node_sum_ms": node_sum,
        "node_sum_ratio": round(node_sum / end_to_end, 4) if end_to_end > 0 else None,
        **_attribution_details(path, node_sum, _median(lost[r] for r in kept), unattributed, _ORT_HINT),
    }
    return Profile(parts, len(kept), _ORT_HINT, details)


# ---------------------------------------------------------------------- TFLite benchmark_model
_TFLITE_SECTION = "Operator-wise Profiling Info for Regular Benchmark Runs"
_TFLITE_RUN_ORDER = re.compile(r"^=+ Run Order =+\s*$")
_TFLITE_TIMINGS = re.compile(r"Timings \(microseconds\): count=(\d+)")
_TFLITE_INFERENCE = re.compile(r"Inference timings in us:.*Inference \(avg\): (\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)")
_TFLITE_NUMBER = r"([-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|nan|inf))%?"
_TFLITE_SEPARATOR = r"[\t ,]+"
_TFLITE_HINT = (
    "operator names must start with '{position}/' (the converter must keep the ONNX node names of "
    "nasbench.export_onnx as tensor names); a delegate that fuses several positions into one node cannot "
    "be split — profile without it (e.g. --use_xnnpack=false)"
)


def _tflite_columns(header: str) -> list[str]:
    """Column names of a table header, text (``[node type]\\t[first]...``) or CSV (``node type, first``)."""
    cells = re.findall(r"\[([^\]]*)\]", header) if "[" in header else header.split(",")
    return [c.strip().lower().replace("_", " ") for c in cells]


def _tflite_names(name: str) -> tuple[str, ...]:
    """The tensor names a row's Name lists: ``[a, b]:12`` → (a, b); ``Delegate/Conv:3`` → (Delegate/Conv,)."""
    bracketed = re.fullmatch(r"\[(.*)\]:\d+", name)
    if bracketed:
        return tuple(bracketed.group(1).split(", "))
    return (re.sub(r":\d+$", "", name),)


@register_importer("tflite")
def _import_tflite(request: ImportRequest) -> Profile:
    """The op profile of TFLite / LiteRT ``benchmark_model --enable_op_profiling=true`` (text or CSV
    output). Only the primary graph's "Run Order" table of the regular runs is read: it lists every node
    once with its average time per call (``avg ms``) and calls per run (``times called``). The tool
    reports averages, so each part gets one value (avg × calls per run) standing for the reported runs."""
    space, _ = request.space_and_arch("a TFLite profile")
    request.no_skipping("benchmark_model reports averages over runs that exclude its own warm-up runs")
    path = request.path
    lines = _read(path).splitlines()
    start = next((i for i, t in enumerate(lines) if _TFLITE_SECTION in t), None)
    if start is None:
        raise LatencyTableError(
            f"{path}: no '{_TFLITE_SECTION}' section; run benchmark_model with --enable_op_profiling=true"
        )
    table = next((i for i in range(start, len(lines)) if _TFLITE_RUN_ORDER.match(lines[i].strip())), None)
    if table is None or table + 1 >= len(lines):
        raise LatencyTableError(f"{path}: line {start + 1}: the section has no 'Run Order' table")
    columns = _tflite_columns(lines[table + 1])
    numeric = columns[1:-1]
    if columns[:1] != ["node type"] or columns[-1:] != ["name"] or not {"avg ms", "times called"} <= set(numeric):
        raise LatencyTableError(
            f"{path}: line {table + 2}: expected a header with node type, first, avg ms, ..., times called, "
            f"name columns, got {lines[table + 1].strip()!r}"
        )
    row = re.compile(
        rf"^\s*(?P<type>\S.*?){_TFLITE_SEPARATOR}"
        + _TFLITE_SEPARATOR.join([_TFLITE_NUMBER] * len(numeric))
        + rf"{_TFLITE_SEPARATOR}(?P<name>\S.*?)\s*$",
        re.IGNORECASE,
    )
    attribution = _Attribution(space)
    per_part: dict[str, float] = {}
    node_sum = lost = 0.0
    unattributed: set[str] = set()
    end = table + 2
    while end < len(lines) and lines[end].strip() and not lines[end].lstrip().startswith("="):
        where = f"{path}: line {end + 1}"
        match = row.match(lines[end])
        if match is None:
            raise LatencyTableError(f"{where}: expected a row of {', '.join(columns)}, got {lines[end].strip()!r}")
        values = dict(zip(numeric, match.groups()[1:-1]))
        avg = float(values["avg ms"])
        if not math.isfinite(avg) or avg < 0:
            raise LatencyTableError(f"{where}: avg ms must be a number ≥ 0, got {values['avg ms']!r}")
        calls = values["times called"]
        if not calls.isdigit():
            raise LatencyTableError(f"{where}: times called must be an integer ≥ 0, got {calls!r}")
        name = match.group("name")
        # Per run, a node takes its average time per call times its calls per run.
        ms = avg * int(calls)
        part = attribution.part(_tflite_names(name))
        node_sum += ms
        if part is None:
            lost += ms
            unattributed.add(name)
        per_part[part or SKELETON] = per_part.get(part or SKELETON, 0.0) + ms
        end += 1
    if end == table + 2:
        raise LatencyTableError(f"{path}: line {table + 2}: the 'Run Order' table has no rows")
    timings = next(((n, m) for n, t in enumerate(lines[end:], end + 1) if (m := _TFLITE_TIMINGS.search(t))), None)
    runs = int(timings[1].group(1)) if timings else 1
    if timings and runs < 1:
        raise LatencyTableError(f"{path}: line {timings[0]}: the profile reports count=0 runs")
    inference = next((m for t in lines[:start] if (m := _TFLITE_INFERENCE.search(t))), None)
    end_to_end = float(inference.group(1)) / 1000.0 if inference else None
    node_sum = round(node_sum, 5)
    details: dict[str, Any] = {
        "runs": runs,
        "statistic": "average over runs (benchmark_model reports no per-run times)",
        "end_to_end_ms": end_to_end,
        "node_sum_ms": node_sum,
        "node_sum_ratio": round(node_sum / end_to_end, 4) if end_to_end else None,
        **_attribution_details(path, node_sum, round(lost, 5), unattributed, _TFLITE_HINT),
    }
    parts: dict[str | BlockKey, Series] = {part: Series((ms,), runs) for part, ms in per_part.items()}
    return Profile(parts, runs, _TFLITE_HINT, details)


# ---------------------------------------------------------------------- plain CSV
_CSV_POSITION = ("position", "latency_ms")
_CSV_SIGNATURE = ("block", "options", "channels", "height", "width", "latency_ms")
_CSV_HINT = "add rows '{position},<milliseconds>' (one per run)"


def _latency(value: str, where: str) -> float:
    try:
        ms = float(value)
    except ValueError:
        ms = math.nan
    if not math.isfinite(ms) or ms < 0:
        raise LatencyTableError(f"{where}: latency_ms must be a number ≥ 0, got {value!r}")
    return ms


def _positive(value: str, name: str, where: str) -> int:
    if not value.strip().isdigit() or int(value) < 1:
        raise LatencyTableError(f"{where}: {name} must be a positive integer, got {value!r}")
    return int(value)


RowParser = Callable[[list[str], str], "str | BlockKey"]


def _position_rows(request: ImportRequest) -> RowParser:
    """``position,latency_ms``: a row times a position or the skeleton."""
    space, _ = request.space_and_arch("the position form of a CSV profile")
    names = [SKELETON, *(p.name for p in space.positions)]

    def part(cells: list[str], where: str) -> str:
        name = cells[0].strip()
        if name not in names:
            raise LatencyTableError(f"{where}: unknown position {name!r}{suggest(name, names)} {known(names)}")
        return name

    return part


def _signature_rows(request: ImportRequest) -> RowParser:
    """``block,options,channels,height,width,latency_ms``: a row times a block signature; no space needed."""
    return _signature


def _signature(cells: list[str], where: str) -> BlockKey:
    block = cells[0].strip()
    try:
        options = json.loads(cells[1]) if cells[1].strip() else {}
    except json.JSONDecodeError:
        options = None
    if not isinstance(options, dict):
        raise LatencyTableError(f'{where}: options must be a JSON object such as {{"k": 1}}, got {cells[1]!r}')
    try:
        check_options(block, options)
    except BlockError as exc:
        raise LatencyTableError(f"{where}: {exc}") from None
    sizes = [_positive(v, n, where) for v, n in zip(cells[2:5], _CSV_SIGNATURE[2:5])]
    return BlockKey(block, _options_key(options), *sizes)


_CSV_FORMS: dict[tuple[str, ...], Callable[[ImportRequest], RowParser]] = {
    _CSV_POSITION: _position_rows,
    _CSV_SIGNATURE: _signature_rows,
}


@register_importer("csv")
def _import_csv(request: ImportRequest) -> Profile:
    """A plain CSV, one row per run of a part: ``position,latency_ms`` (``skeleton`` for the fixed parts)
    or ``block,options,channels,height,width,latency_ms`` (options as a JSON object; it may contain
    unquoted commas). Blank lines and lines starting with ``#`` are ignored."""
    path = request.path
    rows = [
        (n, line)
        for n, line in enumerate(_read(path).splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not rows:
        raise LatencyTableError(
            f"{path}: empty; expected a header {','.join(_CSV_POSITION)} or {','.join(_CSV_SIGNATURE)}"
        )
    n, header = rows[0]
    columns = tuple(c.strip().lower() for c in next(csv.reader([header])))
    if columns not in _CSV_FORMS:
        raise LatencyTableError(
            f"{path}: line {n}: expected the header {','.join(_CSV_POSITION)} or {','.join(_CSV_SIGNATURE)}, "
            f"got {header.strip()!r}"
        )
    part_of = _CSV_FORMS[columns](request)
    samples: dict[str | BlockKey, list[float]] = {}
    for n, line in rows[1:]:
        where = f"{path}: line {n}"
        cells = next(csv.reader([line]))
        if len(cells) > len(columns) and columns == _CSV_SIGNATURE:
            # Unquoted JSON options with commas split into several cells: join them back.
            cells = [cells[0], ",".join(cells[1:-4]), *cells[-4:]]
        if len(cells) != len(columns):
            raise LatencyTableError(f"{where}: expected {len(columns)} fields ({','.join(columns)}), got {len(cells)}")
        samples.setdefault(part_of(cells, where), []).append(_latency(cells[-1], where))
    if not samples:
        raise LatencyTableError(f"{path}: line {n}: no rows after the header")
    kept = {part: values[request.skip_runs :] for part, values in samples.items()}
    short = next((part for part, values in kept.items() if not values), None)
    if short is not None:
        raise LatencyTableError(
            f"{path}: {short} has {len(samples[short])} rows; skip_runs={request.skip_runs} leaves none"
        )
    parts: dict[str | BlockKey, Series] = {part: Series(tuple(v), len(v)) for part, v in kept.items()}
    runs = max(len(v) for v in kept.values())
    return Profile(parts, runs, _CSV_HINT, {"runs": runs, "skipped_runs": request.skip_runs})
