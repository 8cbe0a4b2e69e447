"""DARTS over the lite_denoise space with the shipped latency table: under latency pressure it finds a
faster architecture than LiteDenoiseNet, and the found architecture is NPU-native."""

from __future__ import annotations

from pathlib import Path

import pytest

import nasbench
from nasbench.latency import LatencyTable
from nasbench.search import darts
from nasbench.train import CropDataset, builtin_images

TABLE = Path(nasbench.__file__).parent / "profiles" / "tables" / "lite_denoise_256_t1.yaml"

pytestmark = pytest.mark.usefixtures("one_thread")


def test_darts_on_lite_denoise_finds_a_faster_npu_native_architecture(tmp_path) -> None:
    space = nasbench.load_space("lite_denoise")
    table = LatencyTable.load(TABLE)
    crops = CropDataset(builtin_images("train"), 16, "noise", length=32, seed=0)
    result = darts(
        space, crops, table, steps=8, warmup_steps=2, batch_size=2, mu=1.0, alpha_lr=0.3, progress=False
    )
    assert set(result.architecture) == {p.name for p in space.positions}
    assert table.predict(space, result.architecture) < table.predict(space, space.baseline())
    onnx = nasbench.export_onnx(space.build(result.architecture), tmp_path / "found.onnx", (1, 3, 32, 32))
    assert nasbench.check_operators(onnx, "npu_native") == []
