"""Importing per-op profiles (onnxruntime JSON, TFLite benchmark_model, plain CSV) into latency tables."""

from __future__ import annotations

import json
import re
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import nasbench
from nasbench.latency import LatencyTable, LatencyTableError, block_key, skeleton_key
from nasbench.latency.importers import SKELETON, import_profile, list_formats

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_ARCH = (
    "enc1:naf_lite enc2:conv_bn_relu enc3:conv_bn_relu enc4:conv_bn_relu*2 middle:conv_bn_relu*2 "
    "dec4:conv_bn_relu dec3:naf_bn dec2:conv_bn_relu dec1:conv_bn_relu"
)
SIZE = (64, 64)
WARMUP = 2
RUNS = 5


@pytest.fixture(scope="module")
def space() -> nasbench.SearchSpace:
    return nasbench.load_space("nafnet_tiny")


@pytest.fixture(scope="module")
def onnx_model(space, tmp_path_factory) -> Path:
    return nasbench.export_onnx(
        space.build(space.random(0)), tmp_path_factory.mktemp("onnx") / "net.onnx", (1, 3, *SIZE)
    )


def ort_profile(model: Path, directory: Path, level: str) -> Path:
    """Run ``model`` WARMUP + RUNS times in onnxruntime with profiling; the profile's path."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(directory / level)
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, 3, *SIZE), dtype=np.float32)
    for _ in range(WARMUP + RUNS):
        session.run(None, {"input": x})
    return Path(session.end_profiling())


def per_run_parts(events: list[dict], space: nasbench.SearchSpace, skip: int) -> list[dict[str, float]]:
    """Reference attribution: per measured run, ms per position (by name prefix) and per skeleton; plus the
    run's total and the time of nodes without any prefix."""
    runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e["name"] == "model_run")[skip:]
    positions = {p.name for p in space.positions}
    out: list[dict[str, float]] = [defaultdict(float) for _ in runs]
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        run = next((i for i, (a, b) in enumerate(runs) if a <= e["ts"] <= b), None)
        if run is None:  # a skipped warm-up run
            continue
        ms = e["dur"] / 1000
        prefix = e["name"].split("/")[0]
        out[run][prefix if prefix in positions else SKELETON] += ms
        out[run]["total"] += ms
        if "/" not in e["name"]:
            out[run]["no prefix"] += ms
    return out


def expected_prediction(parts: list[dict[str, float]], space: nasbench.SearchSpace, arch) -> float:
    """Skeleton median + per position the median of all samples of its signature (positions sharing one pool)."""
    pooled: dict[object, list[float]] = defaultdict(list)
    for p in space.positions:
        pooled[block_key(space, p.name, arch[p.name], *SIZE)].extend(run[p.name] for run in parts)
    by_key = {key: float(np.median(v)) for key, v in pooled.items()}
    skeleton = float(np.median([run[SKELETON] for run in parts]))
    return skeleton + sum(by_key[block_key(space, p.name, arch[p.name], *SIZE)] for p in space.positions)


# ---------------------------------------------------------------------- onnxruntime, profiled here
def test_ort_profile_made_here_attributes_every_node(space, onnx_model, tmp_path) -> None:
    arch = space.random(0)
    path = ort_profile(onnx_model, tmp_path, "ORT_ENABLE_EXTENDED")
    table = import_profile(
        path, "ort_json", space, arch, SIZE, metadata={"device": "test host", "threads": 1}, skip_runs=WARMUP
    )
    events = json.loads(path.read_text())
    parts = per_run_parts(events, space, WARMUP)
    assert len(parts) == RUNS

    # Every position of the architecture has an entry, and so does the skeleton.
    breakdown = table.breakdown(space, arch, SIZE)
    assert set(breakdown) == {SKELETON, *(p.name for p in space.positions)}
    assert skeleton_key(space, *SIZE) in table.skeletons
    assert len(table.blocks) == len({block_key(space, p.name, arch[p.name], *SIZE) for p in space.positions})
    assert all(e.source == "ort_json" for e in [*table.blocks.values(), *table.skeletons.values()])

    # Each run's node time is split without loss: positions + skeleton = all kernel time of that run.
    for run in parts:
        attributed = run[SKELETON] + sum(run[p.name] for p in space.positions)
        assert attributed == pytest.approx(run["total"], abs=1e-9)
        assert all(run[p.name] > 0 for p in space.positions)

    # The prediction is the skeleton median plus each position's (pooled) signature median.
    assert table.predict(space, arch, SIZE) == pytest.approx(expected_prediction(parts, space, arch), abs=1e-4)
    # enc4.1 and dec4.0 are both conv_bn_relu at 128×8×8: one entry with the samples of both.
    shared = block_key(space, "enc4.1", arch["enc4.1"], *SIZE)
    assert shared == block_key(space, "dec4.0", arch["dec4.0"], *SIZE)
    assert table.blocks[shared].runs == 2 * RUNS

    meta = table.metadata
    assert meta["device"] == "test host" and meta["source"] == "ort_json" and meta["space"] == "nafnet_tiny"
    assert meta["file"] == path.name and meta["architecture"] == str(arch)
    assert meta["runs"] == RUNS and meta["skipped_runs"] == WARMUP
    model_runs = sorted((e["ts"], e["dur"]) for e in events if e["name"] == "model_run")[WARMUP:]
    assert meta["end_to_end_ms"] == pytest.approx(np.median([d for _, d in model_runs]) / 1000, abs=1e-4)
    assert meta["node_sum_ms"] == pytest.approx(np.median([r["total"] for r in parts]), abs=1e-4)
    assert meta["node_sum_ratio"] == pytest.approx(meta["node_sum_ms"] / meta["end_to_end_ms"], abs=1e-3)
    assert 0 < meta["node_sum_ratio"] <= 1  # kernels run inside model_run; the rest is framework overhead
    assert meta["unattributed_ms"] == pytest.approx(np.median([r["no prefix"] for r in parts]), abs=1e-4)

    # The imported table is an ordinary table: it saves and loads.
    loaded = LatencyTable.load(table.save(tmp_path / "imported.yaml"))
    assert loaded.blocks == table.blocks and loaded.skeletons == table.skeletons


def test_ort_layout_optimisation_reports_unattributed_time(space, onnx_model, tmp_path) -> None:
    """ORT_ENABLE_ALL may rename nodes (NCHWc layout on x86: ``conv2d_nchwc``, ``ReorderInput``) and so
    drop the position prefix; that time goes to the skeleton, is reported, and warned about when large."""
    arch = space.random(0)
    path = ort_profile(onnx_model, tmp_path, "ORT_ENABLE_ALL")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = import_profile(path, "ort_json", space, arch, SIZE, skip_runs=WARMUP)
    parts = per_run_parts(json.loads(path.read_text()), space, WARMUP)
    unattributed = float(np.median([r["no prefix"] for r in parts]))
    meta = table.metadata
    assert meta["unattributed_ms"] == pytest.approx(unattributed, abs=1e-4)
    warned = any("carries no position prefix" in str(w.message) for w in caught)
    assert warned == (meta["unattributed_ms"] > 0.1 * meta["node_sum_ms"])
    assert table.predict(space, arch, SIZE) == pytest.approx(expected_prediction(parts, space, arch), abs=1e-4)


def test_ort_position_without_nodes_is_an_error(space, onnx_model, tmp_path) -> None:
    path = ort_profile(onnx_model, tmp_path, "ORT_ENABLE_EXTENDED")
    renamed = tmp_path / "renamed.json"
    renamed.write_text(re.sub(r'"(enc|dec)[12]\.\d+/', '"renamed/', path.read_text()))
    # the positions of the two finest levels now carry an unknown prefix — most of the node time, so well over
    # the 10 % warning share even when a loaded machine skews single nodes: a warning, then the error.
    with (
        pytest.warns(UserWarning, match="carries no position prefix"),
        pytest.raises(
            LatencyTableError,
            match=r"renamed\.json: nothing in the profile is attributed to position (enc|dec)[12]\.\d+",
        ),
    ):
        import_profile(renamed, "ort_json", space, space.random(0), SIZE, skip_runs=WARMUP)


def test_identity_positions_cost_nothing(tmp_path) -> None:
    """lite_denoise's baseline leaves its second slots empty (identity): they run no node."""
    space = nasbench.load_space("lite_denoise")
    arch = space.baseline()
    model = nasbench.export_onnx(space.build(arch), tmp_path / "lite.onnx", (1, 3, 32, 32))
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "lite")
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    for _ in range(3):
        session.run(None, {"input": np.zeros((1, 3, 32, 32), np.float32)})
    table = import_profile(session.end_profiling(), "ort_json", space, arch, (32, 32), skip_runs=1)
    parts = table.breakdown(space, arch)
    assert parts["enc1.1"] == 0.0 and parts["enc1.0"] > 0


# ---------------------------------------------------------------------- onnxruntime, committed fixture
def test_committed_ort_fixture_parses(space) -> None:
    arch = space.architecture(FIXTURE_ARCH)
    table = import_profile(FIXTURES / "ort_nafnet_tiny_64.json", "ort_json", space, arch, SIZE, skip_runs=1)
    assert table.metadata["runs"] == 2 and table.metadata["file"] == "ort_nafnet_tiny_64.json"
    # enc4.0, enc4.1 and dec4.0 share conv_bn_relu at 128×8×8: 3 positions × 2 runs of samples.
    assert table.blocks[block_key(space, "enc4.0", "conv_bn_relu", *SIZE)].runs == 6
    assert len(table.blocks) == 7 and len(table.skeletons) == 1
    parts = per_run_parts(json.loads((FIXTURES / "ort_nafnet_tiny_64.json").read_text()), space, 1)
    assert table.predict(space, arch, SIZE) == pytest.approx(expected_prediction(parts, space, arch), abs=1e-4)
    # The four Split nodes of the NAF blocks carry no prefix (export_onnx leaves them unnamed).
    assert table.metadata["unattributed_nodes"] == 4


# ---------------------------------------------------------------------- TFLite benchmark_model
def tflite_rows(path: Path) -> list[tuple[float, int, str]]:
    """Reference parse of the tab-separated sample: (avg ms, times called, name) of the Run Order rows."""
    lines = path.read_text().splitlines()
    start = next(i for i, t in enumerate(lines) if "Operator-wise Profiling Info" in t) + 3
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        fields = [f.strip() for f in line.split("\t")[1:]]
        rows.append((float(fields[-6]), int(fields[-2]), fields[-1]))
    return rows


@pytest.mark.parametrize(
    "name", ["tflite_nafnet_tiny_64.txt", "tflite_nafnet_tiny_64_start_column.txt", "tflite_nafnet_tiny_64.csv"]
)
def test_tflite_sample_attributes_ops_to_positions(space, name) -> None:
    arch = space.architecture(FIXTURE_ARCH)
    table = import_profile(FIXTURES / name, "tflite", space, arch, SIZE, metadata={"device": "sample"})
    rows = tflite_rows(FIXTURES / "tflite_nafnet_tiny_64.txt")  # the same rows in every layout
    per_part: dict[str, float] = defaultdict(float)
    for avg, calls, op in rows:
        prefix = op.strip("[").split("/")[0]
        per_part[prefix if prefix in arch else SKELETON] += avg * calls
    pooled: dict[object, list[float]] = defaultdict(list)
    for p in space.positions:
        pooled[block_key(space, p.name, arch[p.name], *SIZE)].append(per_part[p.name])
    for key, values in pooled.items():
        entry = table.blocks[key]
        assert entry.median_ms == pytest.approx(float(np.median(values)), abs=1e-6)
        assert entry.runs == 50 * len(values)  # the sample reports count=50 runs
        if len(values) == 1:  # an average per op: no spread to report
            assert entry.p10_ms == entry.median_ms == entry.p90_ms
    assert table.skeletons[skeleton_key(space, *SIZE)].median_ms == pytest.approx(per_part[SKELETON], abs=1e-6)
    meta = table.metadata
    assert meta["source"] == "tflite" and meta["runs"] == 50
    assert meta["node_sum_ms"] == pytest.approx(sum(a * c for a, c, _ in rows), abs=1e-6)
    assert meta["end_to_end_ms"] == pytest.approx(3.3394)  # the sample's "Inference (avg)" line, in µs
    assert meta["unattributed_ms"] == pytest.approx(sum(a for a, _, n in rows if "/" not in n), abs=1e-6)


def test_tflite_fused_node_across_positions_is_unattributed(space, tmp_path) -> None:
    text = (FIXTURES / "tflite_nafnet_tiny_64.txt").read_text()
    fused = tmp_path / "fused.txt"
    fused.write_text(text.replace("[enc3.0/node_add_3]:", "[enc3.0/node_add_3, downs.2/node_conv2d_11]:"))
    arch = space.architecture(FIXTURE_ARCH)
    before = import_profile(FIXTURES / "tflite_nafnet_tiny_64.txt", "tflite", space, arch, SIZE)
    after = import_profile(fused, "tflite", space, arch, SIZE)
    avg = next(
        a for a, _, n in tflite_rows(FIXTURES / "tflite_nafnet_tiny_64.txt") if n.startswith("[enc3.0/node_add_3]")
    )
    assert after.metadata["unattributed_ms"] == pytest.approx(before.metadata["unattributed_ms"] + avg)
    assert after.breakdown(space, arch)["enc3.0"] == pytest.approx(before.breakdown(space, arch)["enc3.0"] - avg)


def test_tflite_single_delegate_node_leaves_positions_without_time(space, tmp_path) -> None:
    path = tmp_path / "delegated.txt"
    path.write_text(
        "Operator-wise Profiling Info for Regular Benchmark Runs:\n"
        "============================== Run Order ==============================\n"
        "\t[node type]\t[first]\t[avg ms]\t[%]\t[cdf%]\t[mem KB]\t[times called]\t[Name]\n"
        "\tTfLiteXNNPackDelegate\t3.0\t2.5\t100.000%\t100.000%\t0.000\t1\t[enc1.0/node_add, ending/node_conv2d_30]:0\n"
    )
    with (
        pytest.warns(UserWarning, match=r"100% of the node time .* a delegate that fuses several positions"),
        pytest.raises(LatencyTableError, match=r"nothing in the profile is attributed to position enc1\.0"),
    ):
        import_profile(path, "tflite", space, space.random(0), SIZE)


# ---------------------------------------------------------------------- plain CSV
def test_csv_position_form(space, tmp_path) -> None:
    arch = space.architecture(FIXTURE_ARCH)
    lines = ["# per-position times from a stopwatch, two runs", "position,latency_ms", ""]
    for i, p in enumerate(space.positions):
        lines += [f"{p.name},{0.1 * (i + 1):.3f}", f"{p.name},{0.1 * (i + 1) + 0.02:.3f}"]
    lines += ["skeleton,1.0", "skeleton,1.2"]
    path = tmp_path / "positions.csv"
    path.write_text("\n".join(lines) + "\n")
    table = import_profile(path, "csv", space, arch, SIZE, metadata={"device": "Galaxy S24 NPU"})
    assert table.skeletons[skeleton_key(space, *SIZE)].median_ms == pytest.approx(1.1)
    assert table.blocks[block_key(space, "enc1.0", "naf_lite", *SIZE)].median_ms == pytest.approx(0.11)
    assert table.blocks[block_key(space, "enc1.0", "naf_lite", *SIZE)].runs == 2
    # enc4.0, enc4.1, dec4.0 (positions 3, 4, 7) pool their 6 rows: 0.4, 0.42, 0.5, 0.52, 0.8, 0.82.
    pooled = table.blocks[block_key(space, "enc4.0", "conv_bn_relu", *SIZE)]
    assert pooled.runs == 6 and pooled.median_ms == pytest.approx(0.51)
    assert table.metadata["device"] == "Galaxy S24 NPU" and table.metadata["source"] == "csv"
    assert table.metadata["runs"] == 2

    skipped = import_profile(path, "csv", space, arch, SIZE, skip_runs=1)
    assert skipped.skeletons[skeleton_key(space, *SIZE)].median_ms == pytest.approx(1.2)


def test_csv_signature_form_needs_no_space(tmp_path) -> None:
    path = tmp_path / "signatures.csv"
    path.write_text(
        "block,options,channels,height,width,latency_ms\n"
        "naf,{},16,64,64,0.5\n"
        "naf,,16,64,64,0.7\n"
        'naf,"{""dw_expand"": 1, ""ffn_expand"": 1}",32,32,32,0.25\n'
        'naf,{"dw_expand": 1, "ffn_expand": 1},32,32,32,0.35\n'
    )
    table = import_profile(path, "csv", None, None, SIZE)
    assert table.skeletons == {}
    plain = table.blocks[nasbench.latency.BlockKey("naf", (), 16, 64, 64)]
    assert plain.median_ms == pytest.approx(0.6) and plain.runs == 2
    narrow = table.blocks[nasbench.latency.BlockKey("naf", (("dw_expand", 1), ("ffn_expand", 1)), 32, 32, 32)]
    assert narrow.median_ms == pytest.approx(0.3) and narrow.runs == 2
    assert "space" not in table.metadata


# ---------------------------------------------------------------------- malformed files and arguments
POSITION_CSV = "# stopwatch\nposition,latency_ms\n"
MALFORMED_CSV = [
    (
        POSITION_CSV + "enc1.0,0.1\n\n# note\nskeleton,1\nenc2.0,abc\n",
        r"prof\.csv: line 7: latency_ms must be a number ≥ 0, got 'abc'",
    ),
    (POSITION_CSV + "enc1.0,-1\n", r"prof\.csv: line 3: latency_ms must be a number ≥ 0, got '-1'"),
    (POSITION_CSV + "enc1.0,nan\n", r"prof\.csv: line 3: latency_ms must be a number ≥ 0, got 'nan'"),
    (
        POSITION_CSV + "enc9.0,1\n",
        r"prof\.csv: line 3: unknown position 'enc9\.0'.*\(known: skeleton, enc1\.0, enc2\.0",
    ),
    (POSITION_CSV + "enc1.0,1,2\n", r"prof\.csv: line 3: expected 2 fields \(position,latency_ms\), got 3"),
    ("pos,ms\nenc1.0,1\n", r"prof\.csv: line 1: expected the header position,latency_ms or block,options,"),
    ("# nothing\n\n", r"prof\.csv: empty"),
    (POSITION_CSV, r"prof\.csv: line 2: no rows after the header"),
    (
        POSITION_CSV + "skeleton,1\n",
        r"prof\.csv: nothing in the profile is attributed to position enc1\.0 \(candidate ",
    ),
    (
        "block,options,channels,height,width,latency_ms\nnaf,[1],16,64,64,1\n",
        r"prof\.csv: line 2: options must be a JSON object",
    ),
    (
        "block,options,channels,height,width,latency_ms\nnafx,{},16,64,64,1\n",
        r"prof\.csv: line 2: unknown block 'nafx'",
    ),
    (
        "block,options,channels,height,width,latency_ms\nnaf,{},0,64,64,1\n",
        r"prof\.csv: line 2: channels must be a positive integer, got '0'",
    ),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED_CSV)
def test_malformed_csv(space, tmp_path, text, message) -> None:
    path = tmp_path / "prof.csv"
    path.write_text(text)
    with pytest.raises(LatencyTableError, match=message):
        import_profile(path, "csv", space, space.random(0), SIZE)


def _events(*extra: dict) -> str:
    base = [
        {"cat": "Node", "name": "enc1.0/node_add_kernel_time", "ts": 10, "dur": 5, "ph": "X", "args": {}},
        {"cat": "Session", "name": "model_run", "ts": 0, "dur": 100, "ph": "X", "args": {}},
    ]
    return "[\n" + ",\n".join(json.dumps(e) for e in [*base, *extra]) + "\n]\n"


MALFORMED_JSON = [
    ('[\n{"cat": "Node",\n "name": \n]', r"prof\.json: line 4: malformed JSON"),
    ('{"traceEvents": []}', r"prof\.json: line 1: expected a JSON array of trace events"),
    (
        _events({"cat": "Node", "name": "x_kernel_time", "ts": 1, "dur": "x"}),
        r"prof\.json: event 2 \(line 4\): 'dur' must be a number ≥ 0 \(µs\), got 'x'",
    ),
    (
        _events({"cat": "Node", "name": 7, "ts": 1, "dur": 1}),
        r"prof\.json: event 2 \(line 4\): a Node event needs a 'name' string",
    ),
    (_events([1, 2]), r"prof\.json: event 2 \(line 4\): expected a trace event"),
    (
        _events({"cat": "Node", "name": "x_kernel_time", "ts": 500, "dur": 1}),
        r"event 2 \(line 4\): node event at ts=500 µs lies outside every model_run",
    ),
    ('[{"cat": "Node", "name": "a_kernel_time", "ts": 0, "dur": 1}]', r"prof\.json: no 'model_run' events"),
    (_events() + "x", r"prof\.json: line 5: malformed JSON: extra data"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED_JSON)
def test_malformed_ort_json(space, tmp_path, text, message) -> None:
    path = tmp_path / "prof.json"
    path.write_text(text)
    with pytest.raises(LatencyTableError, match=message):
        import_profile(path, "ort_json", space, space.random(0), SIZE)


MALFORMED_TFLITE = [
    ("INFO: STARTING!\n", r"prof\.txt: no 'Operator-wise Profiling Info for Regular Benchmark Runs' section"),
    (
        "Operator-wise Profiling Info for Regular Benchmark Runs:\n== Run Order ==\n"
        "\t[node type]\t[first]\t[avg ms]\t[%]\t[cdf%]\t[mem KB]\t[times called]\t[Name]\n"
        "\tCONV_2D\t0.1\tfast\t1%\t1%\t0\t1\t[enc1.0/x]:0\n",
        r"prof\.txt: line 4: expected a row of node type, first, avg ms",
    ),
    (
        "Operator-wise Profiling Info for Regular Benchmark Runs:\n== Run Order ==\n"
        "\t[node type]\t[first]\t[avg ms]\t[%]\t[cdf%]\t[mem KB]\t[times called]\t[Name]\n"
        "\tCONV_2D\t0.1\t0.1\t1%\t1%\t0\t1.5\t[enc1.0/x]:0\n",
        r"prof\.txt: line 4: times called must be an integer ≥ 0, got '1\.5'",
    ),
    (
        "Operator-wise Profiling Info for Regular Benchmark Runs:\n== Run Order ==\n\t[node type]\t[Name]\n",
        r"prof\.txt: line 3: expected a header with node type, first, avg ms",
    ),
    (
        "Operator-wise Profiling Info for Regular Benchmark Runs:\n",
        r"prof\.txt: line 1: the section has no 'Run Order' table",
    ),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED_TFLITE)
def test_malformed_tflite(space, tmp_path, text, message) -> None:
    path = tmp_path / "prof.txt"
    path.write_text(text)
    with pytest.raises(LatencyTableError, match=message):
        import_profile(path, "tflite", space, space.random(0), SIZE)


def test_bad_arguments(space, tmp_path) -> None:
    fixture = FIXTURES / "ort_nafnet_tiny_64.json"
    arch = space.architecture(FIXTURE_ARCH)
    assert list_formats() == ["csv", "ort_json", "tflite"]
    with pytest.raises(LatencyTableError, match=r"unknown profile format 'onnx'.*\(known: csv, ort_json, tflite\)"):
        import_profile(fixture, "onnx", space, arch, SIZE)
    with pytest.raises(LatencyTableError, match=r"the profile has 3 runs; skip_runs=3 leaves none"):
        import_profile(fixture, "ort_json", space, arch, SIZE, skip_runs=3)
    with pytest.raises(LatencyTableError, match=r"skip_runs=1 cannot apply: benchmark_model reports averages"):
        import_profile(FIXTURES / "tflite_nafnet_tiny_64.txt", "tflite", space, arch, SIZE, skip_runs=1)
    with pytest.raises(LatencyTableError, match=r"metadata: 'source' is set by the importer"):
        import_profile(fixture, "ort_json", space, arch, SIZE, metadata={"source": "phone"})
    with pytest.raises(LatencyTableError, match=r"metadata: 'runs' is set by the ort_json importer"):
        import_profile(fixture, "ort_json", space, arch, SIZE, metadata={"runs": 9})
    with pytest.raises(LatencyTableError, match=r"importing an onnxruntime profile needs the search space"):
        import_profile(fixture, "ort_json", None, None, SIZE)
    with pytest.raises(LatencyTableError, match=re.escape(f"{tmp_path / 'none.json'}: no such file")):
        import_profile(tmp_path / "none.json", "ort_json", space, arch, SIZE)
    # An architecture string is parsed against the space.
    assert import_profile(fixture, "ort_json", space, FIXTURE_ARCH, SIZE, skip_runs=1).metadata["runs"] == 2
