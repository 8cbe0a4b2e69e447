"""Operator allow-lists: the built-in lists, checks of exported networks, malformed allow-list files."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

import nasbench
from nasbench import ExportError, export_onnx, load_space
from nasbench.deploy import AllowList, OperatorViolation, check_operators, list_allowlists, load_allowlist

SIZE = (1, 3, 32, 32)  # a multiple of LiteDenoiseNet's 2^4, so the backbone adds no Pad/Slice


def _single_node_model(path: Path, node: onnx.NodeProto, initializers: Sequence[TensorProto] = ()) -> Path:
    """A one-node ONNX file (opset 18); the node reads ``x`` and writes ``y``."""
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=list(initializers),
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "list.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------- built-in lists
def test_builtin_allowlists_load_and_name_their_source() -> None:
    assert list_allowlists() == ["nnapi", "npu_native", "tflite_gpu"]
    for name in list_allowlists():
        allow = load_allowlist(name)
        assert allow.name == name
        assert allow.source and allow.description
        assert Path(allow.path).parent.parts[-2:] == ("profiles", "allowlists")


def test_npu_native_is_the_paper_rule() -> None:
    allow = load_allowlist("npu_native")
    assert set(allow.ops) == {"Conv", "Relu", "Add", "Concat", "Resize", "Clip"}
    assert allow.ops["Conv"]["kernel_shape"] == ((3, 3),)
    assert allow.ops["Resize"]["mode"] == ("nearest",)


@pytest.mark.parametrize("allowlist", ["tflite_gpu", "nnapi"])
def test_device_lists_exclude_the_ops_their_sources_lack(allowlist: str) -> None:
    ops = load_allowlist(allowlist).ops
    assert {"Conv", "Add", "Mul", "Concat", "DepthToSpace", "ReduceMean", "Relu"} <= set(ops)
    assert not {"Erf", "LayerNormalization", "Einsum", "BatchNormalization"} & set(ops)
    assert ops["Pad"]["mode"] == ("constant", "reflect")


def test_tflite_gpu_has_cumsum_and_gelu_nnapi_does_not() -> None:
    assert {"CumSum", "Gelu"} <= set(load_allowlist("tflite_gpu").ops)
    assert not {"CumSum", "Gelu"} & set(load_allowlist("nnapi").ops)


# ---------------------------------------------------------------------- exported networks
def test_lite_denoise_baseline_passes_npu_native(tmp_path) -> None:
    path = export_onnx(nasbench.create_model("lite_denoise_net"), tmp_path / "lite.onnx", SIZE)
    assert check_operators(path, "npu_native") == []
    assert {n.op_type for n in onnx.load(str(path)).graph.node} == {"Conv", "Relu", "Add", "Concat", "Resize", "Clip"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_lite_denoise_architectures_pass_npu_native(seed: int, tmp_path) -> None:
    space = load_space("lite_denoise")
    path = export_onnx(space.build(space.random(seed)), tmp_path / "lite.onnx", SIZE)
    assert check_operators(path, "npu_native") == []
    assert check_operators(path, "tflite_gpu") == []


def test_unpadded_size_brings_pad_and_slice(tmp_path) -> None:
    path = export_onnx(nasbench.create_model("lite_denoise_net"), tmp_path / "lite.onnx", (1, 3, 30, 30))
    assert {v.op_type for v in check_operators(path, "npu_native")} == {"Pad", "Slice"}


def test_nafnet_fails_npu_native_with_its_offending_ops(tmp_path) -> None:
    path = export_onnx(nasbench.create_model("nafnet_tiny"), tmp_path / "naf.onnx", SIZE)
    violations = check_operators(path, "npu_native")
    assert all(isinstance(v, OperatorViolation) for v in violations)
    # LayerNorm2d (ReduceMean, Sub, Pow, Sqrt, Div), SimpleGate (Split, Mul), SCA's pool (ReduceMean),
    # PixelShuffle (DepthToSpace); and 1x1, depthwise and 2x2 stride-2 convs.
    assert {"ReduceMean", "Sqrt", "Pow", "Div", "Mul", "Split", "DepthToSpace", "Conv"} <= {
        v.op_type for v in violations
    }
    reasons = {v.reason for v in violations}
    assert "op DepthToSpace not allowed" in reasons
    assert "Conv kernel_shape 1x1 not allowed (allowed: 3x3)" in reasons
    assert "Conv kernel_shape 2x2 not allowed (allowed: 3x3)" in reasons
    assert any(r.startswith("Conv group ") for r in reasons)
    assert all(v.node for v in violations)
    # The LayerNorm decomposition is all ops NNAPI has.
    assert check_operators(path, "nnapi") == []


# ---------------------------------------------------------------------- attribute constraints
def test_attribute_violations_name_value_and_allowed(tmp_path) -> None:
    resize = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="up", mode="linear")
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    path = _single_node_model(tmp_path / "r.onnx", resize, [scales])
    assert check_operators(path, "npu_native") == [
        OperatorViolation("up", "Resize", "Resize mode 'linear' not allowed (allowed: nearest)")
    ]
    assert check_operators(path, "tflite_gpu") == []

    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="c5", kernel_shape=[5, 5], strides=[2, 2])
    weight = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 5, 5], [0.0] * 25)
    path = _single_node_model(tmp_path / "c.onnx", conv, [weight])
    [violation] = check_operators(path, "npu_native")
    assert violation.reason == "Conv kernel_shape 5x5 not allowed (allowed: 3x3)"
    assert str(violation) == "c5: Conv kernel_shape 5x5 not allowed (allowed: 3x3)"


def test_omitted_attributes_use_defaults_and_the_weight(tmp_path) -> None:
    # Resize's mode defaults to nearest; Conv's kernel_shape comes from the weight when omitted.
    resize = helper.make_node("Resize", ["x", "", "s"], ["y"], name="up")
    scales = helper.make_tensor("s", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    assert check_operators(_single_node_model(tmp_path / "r.onnx", resize, [scales]), "npu_native") == []
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="c")
    weight = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 1, 1], [1.0])
    [violation] = check_operators(_single_node_model(tmp_path / "c.onnx", conv, [weight]), "npu_native")
    assert violation.reason == "Conv kernel_shape 1x1 not allowed (allowed: 3x3)"


def test_custom_domain_and_unlisted_ops(tmp_path) -> None:
    gelu = helper.make_node("Gelu", ["x"], ["y"], name="g")
    path = tmp_path / "g.onnx"
    graph = helper.make_graph(
        [gelu, helper.make_node("FusedConv", ["y"], ["z"], name="f", domain="com.microsoft")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 20), helper.make_opsetid("com.microsoft", 1)]
    )
    onnx.save(model, str(path))
    assert [v.reason for v in check_operators(path, "npu_native")] == [
        "op Gelu not allowed",
        "op com.microsoft.FusedConv not allowed (custom domain 'com.microsoft')",
    ]
    assert [v.node for v in check_operators(path, "tflite_gpu")] == ["f"]


def test_allowlist_object_and_yaml_path(tmp_path) -> None:
    path = _single_node_model(tmp_path / "r.onnx", helper.make_node("Relu", ["x"], ["y"], name="r"))
    assert check_operators(path, AllowList(name="relu_only", ops={"Relu": {}})) == []
    listed = _write(tmp_path, "name: add_only\nops:\n  Add:\n")
    assert [v.reason for v in check_operators(path, listed)] == ["op Relu not allowed"]
    assert [v.reason for v in check_operators(path, str(listed))] == ["op Relu not allowed"]


# ---------------------------------------------------------------------- errors
def test_unknown_allowlist_name_lists_the_known_ones() -> None:
    with pytest.raises(ExportError, match=r"unknown allow-list 'npu_nativ'.*\(known: nnapi, npu_native, tflite_gpu\)"):
        load_allowlist("npu_nativ")


def test_missing_onnx_file(tmp_path) -> None:
    with pytest.raises(ExportError, match=r"no such ONNX file"):
        check_operators(tmp_path / "missing.onnx", "npu_native")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nops: {Relu: {}}\nsoruce: paper\n", r": soruce: unknown key \(known: .*\); did you mean 'source'\?$"),
        (
            "name: x\nops: [Conv, Relu]\n",
            r": ops: expected a non-empty mapping of ONNX op type to constraints, got list$",
        ),
        ("name: x\nops: {Relu: [fast]}\n", r": ops\.Relu: expected a mapping of attribute to allowed values"),
        (
            "name: x\nops: {Reul: {}}\n",
            r": ops\.Reul: not an ONNX operator of the default domain; did you mean 'Relu'\?$",
        ),
        (
            "name: x\nops: {Conv: {kernel: [[3, 3]]}}\n",
            r": ops\.Conv\.kernel: Conv has no attribute 'kernel' \(known: .*\); did you mean 'kernel_shape'\?$",
        ),
        (
            "name: x\nops: {Resize: {mode: nearest}}\n",
            r": ops\.Resize\.mode: expected a non-empty list .* got 'nearest'$",
        ),
        (
            "name: x\nops: {Conv: {kernel_shape: [3]}}\n",
            r": ops\.Conv\.kernel_shape\.0: expected a list of integers \(Conv\.kernel_shape\), got 3$",
        ),
        ("name: x\nops: {Constant: {value: [1]}}\n", r": ops\.Constant\.value: value holds a tensor or graph"),
        ("name: 'a b'\nops: {Relu: {}}\n", r": name: expected a name of letters"),
        ("ops: {Relu: {}}\n", r": missing required key 'name'$"),
        ("- Relu\n", r": expected a mapping with keys name, description, source, ops, got list$"),
        ("name: x\nops: {Relu: {}\n", r": malformed YAML: line \d+, column \d+: "),
    ],
    ids=[
        "unknown_top_key",
        "ops_not_mapping",
        "op_constraints_not_mapping",
        "unknown_op",
        "unknown_attribute",
        "values_not_list",
        "value_wrong_type",
        "tensor_attribute",
        "bad_name",
        "missing_name",
        "not_mapping",
        "malformed",
    ],
)
def test_malformed_allowlist_files(text: str, expected: str, tmp_path) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ExportError) as info:
        load_allowlist(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert re.search(expected, message), message


def test_python_allowlist_errors_name_the_object() -> None:
    with pytest.raises(ExportError, match=r"^AllowList\('mine'\): ops\.Resize\.mode\.0: expected a string"):
        AllowList(name="mine", ops={"Resize": {"mode": [1]}})
