"""MOBO over the lite_denoise space: the training-free pipeline (teacher → surrogates → stitched-network
evaluator) with the shipped latency table, and the found architecture is NPU-native.

The teacher is the untrained LiteDenoiseNet (its blocks act from initialisation); a few surrogate steps on
16 px crops and 32 px validation images keep the whole search to seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nasbench
from nasbench.latency import LatencyTable
from nasbench.search.evaluator import TrainingFreeEvaluator
from nasbench.search.mobo import mobo
from nasbench.search.surrogates import distill_surrogates
from nasbench.train import CropDataset, builtin_images, validation_pairs

TABLE = Path(nasbench.__file__).parent / "profiles" / "tables" / "lite_denoise_256_t1.yaml"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def space() -> nasbench.SearchSpace:
    return nasbench.load_space("lite_denoise")


@pytest.fixture(scope="module")
def searched(space, tmp_path_factory):
    teacher = nasbench.create_model("lite_denoise_net").eval()
    crops = CropDataset(builtin_images("train"), 16, "noise", length=64, seed=0)
    surrogates = distill_surrogates(space, teacher, crops, steps=4, batch_size=2, eval_batches=1, progress=False)
    val = validation_pairs(builtin_images("val"), "noise", max_side=32)
    evaluator = TrainingFreeEvaluator(space, teacher, surrogates, val)
    out = tmp_path_factory.mktemp("lite_mobo")
    result = mobo(space, evaluator, LatencyTable.load(TABLE), n_evaluations=8, n_initial=4, output=out, progress=False)
    return result, evaluator


def test_mobo_searches_every_lite_denoise_position(searched, space) -> None:
    result, evaluator = searched
    assert len(result.history) == 8 and evaluator.misses == 8
    archs = [space.architecture(row["architecture"]) for row in result.history]
    assert len({str(a) for a in archs}) == 8 and archs[0] == space.baseline()
    changed = {p.name for a in archs for p in space.positions if a[p.name] != p.candidates[0].label}
    assert len(changed) > len(space.positions) // 2  # the initial design varies positions across the space
    table = LatencyTable.load(TABLE)
    for row, arch in zip(result.history, archs):
        assert row["latency_ms"] == pytest.approx(table.predict(space, arch), rel=1e-9)
        assert row["psnr_drop_db"] == pytest.approx(evaluator(arch)["psnr_drop_db"])


def test_found_architecture_is_npu_native(searched, space, tmp_path) -> None:
    result, _ = searched
    assert str(result.architecture) in {row["architecture"] for row in result.pareto_front}
    onnx = nasbench.export_onnx(space.build(result.architecture), tmp_path / "found.onnx", (1, 3, 32, 32))
    assert nasbench.check_operators(onnx, "npu_native") == []
