"""The latency tables shipped in profiles/tables/ load, cover their space, and were measured here."""

from __future__ import annotations

from pathlib import Path

import pytest

import nasbench
from nasbench.latency import LatencyTable

TABLES = sorted((Path(nasbench.__file__).parent / "profiles" / "tables").glob("*.yaml"))


def test_tables_are_shipped() -> None:
    names = {p.stem for p in TABLES}
    assert {"nafnet_sidd_256_t1", "nafnet_tiny_64_t1"} <= names


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_shipped_table_covers_its_space(path: Path) -> None:
    table = LatencyTable.load(path)
    space_name, size, threads = path.stem.rsplit("_", 2)
    assert table.metadata["space"] == space_name
    assert table.input_size == (int(size), int(size))
    assert table.metadata["threads"] == int(threads.removeprefix("t"))
    assert table.metadata["source"] == "measured" and table.metadata["runtime"].startswith("onnxruntime")
    space = nasbench.load_space(space_name)
    assert table.missing(space) == []
    assert table.predict(space, space.baseline()) > 0
    assert all(e.runs >= 10 for e in table.blocks.values())
