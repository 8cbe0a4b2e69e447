"""Whole networks of the tiny spaces through ONNX and onnxruntime."""

from __future__ import annotations

import onnx
import pytest

import nasbench
from nasbench import export_onnx, load_space
from nasbench.deploy import DEFAULT_OPSET, verify_onnx


@pytest.mark.parametrize("name", ["nafnet_tiny", "restormer_tiny", "lite_denoise"])
def test_random_architecture_round_trips(name: str, perturb, tmp_path) -> None:
    space = load_space(name)
    model = perturb(space.build(space.random(7)), scale=0.05).eval()
    path = export_onnx(model, tmp_path / "net.onnx", (1, 3, 32, 32))
    check = verify_onnx(model, path, (1, 3, 32, 32))
    assert check.max_abs_diff <= 1e-4
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == DEFAULT_OPSET
    assert [i.name for i in proto.graph.input] == ["input"]
    assert not list(tmp_path.glob("*.tmp"))


def test_export_failure_is_an_export_error(tmp_path) -> None:
    class Bad(nasbench.blocks.IdentityBlock):
        def forward(self, x):  # data-dependent control flow the exporter cannot trace
            return x if float(x.sum()) > 0 else -x

    with pytest.raises(nasbench.ExportError, match="ONNX export failed"):
        export_onnx(Bad(3), tmp_path / "bad.onnx", (1, 3, 8, 8))
    assert not (tmp_path / "bad.onnx").exists()
