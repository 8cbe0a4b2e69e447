"""LatencyTable: profiling, prediction, missing entries, the file format and its errors."""

from __future__ import annotations

import dataclasses
import json

import pytest

import nasbench
from nasbench.latency import LatencyTable, LatencyTableError, block_key, skeleton_key


def test_profile_measures_each_distinct_signature_once(tiny_space, tiny_table) -> None:
    keys = {block_key(tiny_space, p.name, lab, 32, 32) for p in tiny_space.positions for lab in p.labels}
    # enc4 has two positions and dec4 shares its shape: 11 positions but 5 distinct shapes × 4 candidates
    assert len(keys) == 20
    assert set(tiny_table.blocks) == keys
    assert set(tiny_table.skeletons) == {skeleton_key(tiny_space, 32, 32)}
    for entry in [*tiny_table.blocks.values(), *tiny_table.skeletons.values()]:
        assert 0 < entry.p10_ms <= entry.median_ms <= entry.p90_ms and entry.runs == 4


def test_metadata_records_the_protocol(tiny_table) -> None:
    meta = tiny_table.metadata
    for key in ("device", "runtime", "execution_provider", "threads", "dtype", "batch", "date", "protocol", "opset"):
        assert key in meta, key
    assert meta["runtime"].startswith("onnxruntime ") and meta["threads"] == 1
    assert tiny_table.input_size == (32, 32)


def test_predict_is_skeleton_plus_blocks(tiny_space, tiny_table) -> None:
    arch = tiny_space.random(1)
    parts = tiny_table.breakdown(tiny_space, arch)
    assert set(parts) == {"skeleton", *(p.name for p in tiny_space.positions)}
    expected = tiny_table.skeletons[skeleton_key(tiny_space, 32, 32)].median_ms + sum(
        tiny_table.blocks[block_key(tiny_space, p, arch[p], 32, 32)].median_ms for p in arch
    )
    assert tiny_table.predict(tiny_space, arch) == pytest.approx(expected)


def test_save_load_round_trip_and_frame(tiny_table, tmp_path) -> None:
    path = tiny_table.save(tmp_path / "t.yaml")
    again = LatencyTable.load(path)
    assert again == tiny_table
    frame = again.to_frame()
    assert len(frame) == 21 and {"kind", "name", "channels", "height", "median_ms", "p10_ms", "p90_ms", "runs"} <= set(
        frame.columns
    )
    assert not list(tmp_path.glob("*.tmp"))
    # one entry per line, so tables diff line by line
    assert sum(line.startswith("  - {") for line in path.read_text().splitlines()) == 21


def test_entries_below_a_ten_thousandth_of_a_ms_round_trip(tiny_table, tmp_path) -> None:
    # json writes 8e-05, which YAML 1.1 would read back as the string '8e-05'
    key = next(iter(tiny_table.blocks))
    tiny = dataclasses.replace(tiny_table.blocks[key], median_ms=0.0, p10_ms=0.0, p90_ms=8e-05)
    table = LatencyTable(
        tiny_table.metadata, tiny_table.input_size, {**tiny_table.blocks, key: tiny}, tiny_table.skeletons
    )
    path = table.save(tmp_path / "t.yaml")
    assert "8e-05" in path.read_text()
    assert LatencyTable.load(path).blocks[key].p90_ms == 8e-05


def test_missing_entries_and_predict_error(tiny_space, tiny_table) -> None:
    assert tiny_table.missing(tiny_space) == []
    partial = LatencyTable(
        tiny_table.metadata,
        tiny_table.input_size,
        {k: v for k, v in tiny_table.blocks.items() if k.block != "naf_lite"},
        dict(tiny_table.skeletons),
    )
    missing = partial.missing(tiny_space)
    assert {m.candidate for m in missing} == {"naf_lite"} and len(missing) == 11
    arch = tiny_space.baseline().replace(tiny_space, enc2_0="naf_lite")
    with pytest.raises(
        LatencyTableError, match=r"no entry for position enc2.0 candidate naf_lite: naf_lite\(\) at 32×16×16"
    ):
        partial.predict(tiny_space, arch)
    # another input size needs other entries
    assert len(tiny_table.missing(tiny_space, (64, 64))) == 1 + sum(len(p.candidates) for p in tiny_space.positions)


def _write(tmp_path, tiny_table, mutate) -> str:
    path = tiny_table.save(tmp_path / "t.yaml")
    text = mutate(path.read_text())
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda t: t.replace("schema_version: 1", "schema_version: 7"),
            "schema_version: this nasbench reads version 1, the file has 7",
        ),
        (
            lambda t: t.replace('"median_ms": ', '"median_ms": -', 1),
            r"skeletons\[0\] \(line \d+\): median_ms must be a finite number ≥ 0",
        ),
        (lambda t: t.replace('"runs": 4, ', "", 1), r"skeletons\[0\] \(line \d+\): missing key 'runs'"),
        (
            lambda t: t + t[t.index('  - {"block"') :].splitlines()[0] + "\n",
            r"duplicate entry for conv_bn_relu\(\) at 16×32×32",
        ),
        (lambda t: t.replace('"channels": 16', '"chanels": 16', 1), r"unknown key 'chanels'"),
        (
            lambda t: t.replace("format: nasbench-latency-table", "format: other"),
            "format: expected 'nasbench-latency-table'",
        ),
        (lambda t: "a: [b", "malformed YAML"),
    ],
)
def test_bad_table_files(tiny_table, tmp_path, mutate, message: str) -> None:
    path = _write(tmp_path, tiny_table, mutate)
    with pytest.raises(LatencyTableError, match=message) as info:
        LatencyTable.load(path)
    assert str(info.value).startswith(path) and "\n" not in str(info.value)


def test_errors_are_nasbench_errors() -> None:
    assert issubclass(LatencyTableError, nasbench.NasbenchError)
    with pytest.raises(LatencyTableError, match="no such file"):
        LatencyTable.load("does/not/exist.yaml")


def test_merge_refuses_other_runtimes(tiny_table) -> None:
    other = LatencyTable({**tiny_table.metadata, "threads": 2}, tiny_table.input_size)
    with pytest.raises(LatencyTableError, match="different threads"):
        tiny_table.merge(other)
    assert tiny_table.merge(LatencyTable(dict(tiny_table.metadata), (32, 32))) == tiny_table


def test_entries_are_json_lines(tiny_table, tmp_path) -> None:
    lines = [line for line in tiny_table.save(tmp_path / "t.yaml").read_text().splitlines() if line.startswith("  - ")]
    assert all(isinstance(json.loads(line[4:]), dict) for line in lines)
