"""Reading latency-table files, with errors that name the file and the entry."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nasbench.latency.table import (
    FORMAT,
    SCHEMA_VERSION,
    BlockKey,
    Entry,
    LatencyTable,
    LatencyTableError,
    SkeletonKey,
    _options_key,
)
from nasbench.space.schema import read_yaml

_ENTRY_FIELDS = ("median_ms", "p10_ms", "p90_ms", "runs")
_BLOCK_FIELDS = ("block", "options", "channels", "height", "width", *_ENTRY_FIELDS, "source")
_SKELETON_FIELDS = ("backbone", "config", "height", "width", *_ENTRY_FIELDS, "source")


def _entry(row: Mapping[str, Any], where: str) -> Entry:
    for name in _ENTRY_FIELDS:
        if name not in row:
            raise LatencyTableError(f"{where}: missing key {name!r}")
    values = {}
    for name in ("median_ms", "p10_ms", "p90_ms"):
        v = row[name]
        if isinstance(v, bool) or not isinstance(v, int | float) or not v == v or v < 0 or v == float("inf"):
            raise LatencyTableError(f"{where}: {name} must be a finite number ≥ 0, got {v!r}")
        values[name] = float(v)
    if not values["p10_ms"] <= values["median_ms"] <= values["p90_ms"]:
        raise LatencyTableError(f"{where}: expected p10_ms ≤ median_ms ≤ p90_ms, got {values}")
    runs = row["runs"]
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise LatencyTableError(f"{where}: runs must be an integer ≥ 1, got {runs!r}")
    return Entry(**values, runs=runs, source=str(row.get("source", "measured")))


def _int(row: Mapping[str, Any], key: str, where: str) -> int:
    v = row.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise LatencyTableError(f"{where}: {key} must be a positive integer, got {v!r}")
    return v


def _check_keys(row: object, allowed: tuple[str, ...], where: str) -> Mapping[str, Any]:
    if not isinstance(row, Mapping):
        raise LatencyTableError(f"{where}: expected a mapping, got {type(row).__name__}")
    unknown = [k for k in row if k not in allowed]
    if unknown:
        raise LatencyTableError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(allowed)})")
    return row


def parse_table(path: str | Path) -> LatencyTable:
    path = Path(path)
    text, data = read_yaml(path, LatencyTableError)
    if not isinstance(data, dict):
        raise LatencyTableError(f"{path}: not a latency table (expected a mapping with format: {FORMAT})")
    if data.get("format") != FORMAT:
        raise LatencyTableError(f"{path}: format: expected {FORMAT!r}, got {data.get('format')!r}")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise LatencyTableError(
            f"{path}: schema_version: this nasbench reads version {SCHEMA_VERSION}, "
            f"the file has {data.get('schema_version')!r}"
        )
    size = data.get("input_size")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size)):
        raise LatencyTableError(f"{path}: input_size: expected [height, width], got {size!r}")
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        raise LatencyTableError(f"{path}: metadata: expected a mapping")
    table = LatencyTable(metadata, (size[0], size[1]), source=str(path))
    lines = text.splitlines()

    def where(section: str, i: int, row: object) -> str:
        needle = json.dumps(row) if isinstance(row, dict) else None
        line = next((n + 1 for n, t in enumerate(lines) if needle and t.strip() == f"- {needle}"), None)
        return f"{path}: {section}[{i}]" + (f" (line {line})" if line else "")

    for i, row in enumerate(data.get("skeletons") or []):
        w = where("skeletons", i, row)
        row = _check_keys(row, _SKELETON_FIELDS, w)
        if not isinstance(row.get("backbone"), str) or not isinstance(row.get("config"), dict):
            raise LatencyTableError(f"{w}: needs 'backbone' (a name) and 'config' (a mapping)")
        key = SkeletonKey(row["backbone"], _options_key(row["config"]), _int(row, "height", w), _int(row, "width", w))
        if key in table.skeletons:
            raise LatencyTableError(f"{w}: duplicate entry for {key}")
        table.skeletons[key] = _entry(row, w)
    for i, row in enumerate(data.get("blocks") or []):
        w = where("blocks", i, row)
        row = _check_keys(row, _BLOCK_FIELDS, w)
        if not isinstance(row.get("block"), str):
            raise LatencyTableError(f"{w}: missing key 'block'")
        options = row.get("options", {})
        if not isinstance(options, dict):
            raise LatencyTableError(f"{w}: options must be a mapping, got {options!r}")
        key = BlockKey(
            row["block"], _options_key(options), _int(row, "channels", w), _int(row, "height", w), _int(row, "width", w)
        )
        if key in table.blocks:
            raise LatencyTableError(f"{w}: duplicate entry for {key}")
        table.blocks[key] = _entry(row, w)
    if data.get("correction") is not None:
        from nasbench.latency.correction import Correction

        table.correction = Correction.from_dict(data["correction"], f"{path}: correction")
    return table
