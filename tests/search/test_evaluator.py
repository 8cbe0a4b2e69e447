"""Evaluators: the training-free evaluator (stitched surrogates, PSNR drop, cache, teacher evaluated once;
overflowing networks re-estimated or reported, never a silent NaN), the Evaluator base class and
FunctionEvaluator."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

import nasbench
from nasbench.errors import ModelError, NasbenchError
from nasbench.search.evaluator import (
    Evaluator,
    FunctionEvaluator,
    NonFiniteEvaluation,
    TrainingFreeEvaluator,
    recalibrate_batchnorm,
)
from nasbench.search.surrogates import SurrogateError, Surrogates, distill_surrogates
from nasbench.space import Architecture, SearchSpace
from nasbench.train import CropDataset, builtin_images, evaluate, validation_pairs

Pairs = list[tuple[torch.Tensor, torch.Tensor]]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return nasbench.load_space("nafnet_tiny")


@pytest.fixture(scope="module")
def teacher(space: SearchSpace) -> nn.Module:
    # NAFNet blocks start as the identity (β = γ = 0); give β and γ values so that every block acts.
    torch.manual_seed(0)
    network = space.build(space.baseline())
    with torch.no_grad():
        for name, p in network.named_parameters():
            if name.endswith((".beta", ".gamma")):
                p.fill_(0.3)
    return network.eval()


@pytest.fixture(scope="module")
def val() -> Pairs:
    return validation_pairs(builtin_images("val"), "noise", max_side=48)


@pytest.fixture(scope="module")
def surrogates(space: SearchSpace, teacher: nn.Module) -> Surrogates:
    crops = CropDataset(builtin_images("train"), 32, "noise", length=128, seed=0)
    return distill_surrogates(
        space, teacher, crops, steps=8, batch_size=2, eval_batches=1, positions=["enc1.0", "dec1.0"], progress=False
    )


@pytest.fixture
def evaluator(space: SearchSpace, teacher: nn.Module, surrogates: Surrogates, val: Pairs) -> TrainingFreeEvaluator:
    return TrainingFreeEvaluator(space, teacher, surrogates, val)


def _teacher_passes(teacher: nn.Module) -> tuple[list[int], torch.utils.hooks.RemovableHandle]:
    calls: list[int] = []
    return calls, teacher.register_forward_pre_hook(lambda module, args: calls.append(1))


def test_baseline_loses_nothing(evaluator: TrainingFreeEvaluator, space: SearchSpace) -> None:
    result = evaluator(space.baseline())
    assert set(result) == set(evaluator.objectives) == {"psnr_db", "ssim", "psnr_drop_db"}
    assert result["psnr_drop_db"] == 0.0
    assert result["psnr_db"] == evaluator.teacher_metrics["psnr_db"]
    assert result["ssim"] == evaluator.teacher_metrics["ssim"]


def test_substituted_architecture_is_the_stitched_network(
    evaluator: TrainingFreeEvaluator, space: SearchSpace, teacher: nn.Module, surrogates: Surrogates, val: Pairs
) -> None:
    arch = space.baseline().replace(space, enc1_0="conv_bn_relu", dec1_0="naf_lite")
    result = evaluator(arch)
    expected = evaluate(surrogates.stitch(teacher, arch), val)
    assert result["psnr_db"] == expected["psnr_db"] and result["ssim"] == expected["ssim"]
    assert result["psnr_drop_db"] == pytest.approx(evaluate(teacher, val)["psnr_db"] - expected["psnr_db"], abs=1e-12)
    assert result["psnr_drop_db"] != 0.0 and math.isfinite(result["psnr_drop_db"])


def test_teacher_is_evaluated_once(evaluator: TrainingFreeEvaluator, space: SearchSpace, teacher: nn.Module) -> None:
    calls, handle = _teacher_passes(teacher)
    try:
        evaluator(space.baseline().replace(space, enc1_0="naf_bn"))
        assert len(calls) == len(evaluator.val_pairs)  # the teacher's own metrics, one pass per image
        evaluator(space.baseline().replace(space, enc1_0="naf_lite"))
        first = evaluator.teacher_metrics
        assert len(calls) == len(evaluator.val_pairs)
    finally:
        handle.remove()
    assert set(first) == {"psnr_db", "ssim", "input_psnr_db"}


def test_results_are_cached_by_architecture_string(
    space: SearchSpace, teacher: nn.Module, surrogates: Surrogates, val: Pairs
) -> None:
    evaluator = TrainingFreeEvaluator(space, teacher, surrogates, val)
    a = space.baseline().replace(space, enc1_0="naf_bn")
    b = space.baseline().replace(space, dec1_0="conv_bn_relu")
    first = evaluator(a)
    assert (evaluator.misses, evaluator.hits, len(evaluator)) == (1, 0, 1)
    again = evaluator(str(a))
    assert again == first and (evaluator.misses, evaluator.hits) == (1, 1)
    again["psnr_db"] = -1.0  # a copy: the cache is not changed through a result
    assert evaluator(a) == first and (evaluator.misses, evaluator.hits) == (1, 2)
    evaluator(b)
    assert (evaluator.misses, evaluator.hits, len(evaluator)) == (2, 2, 2)
    evaluator.clear_cache()
    assert evaluator(a) == first and (evaluator.misses, len(evaluator)) == (3, 1)


def test_cache_size_bounds_the_cache(space: SearchSpace, teacher: nn.Module, surrogates: Surrogates, val: Pairs):
    a = space.baseline().replace(space, enc1_0="naf_bn")
    b = space.baseline().replace(space, enc1_0="naf_lite")
    lru = TrainingFreeEvaluator(space, teacher, surrogates, val, cache_size=1)
    for arch in (a, b, a, a):
        lru(arch)
    assert (lru.misses, lru.hits, len(lru)) == (3, 1, 1)
    uncached = TrainingFreeEvaluator(space, teacher, surrogates, val, cache_size=0)
    assert uncached(a) == uncached(a) and (uncached.misses, uncached.hits, len(uncached)) == (2, 0, 0)


def test_evaluator_refuses_what_does_not_fit(
    space: SearchSpace, teacher: nn.Module, surrogates: Surrogates, val: Pairs
) -> None:
    other = nasbench.load_space("restormer_tiny")
    with pytest.raises(SurrogateError, match="distilled for space 'nafnet_tiny', not this definition of"):
        TrainingFreeEvaluator(other, other.build(), surrogates, val)
    with pytest.raises(ModelError, match="without position_names"):
        TrainingFreeEvaluator(space, nn.Identity(), surrogates, val)
    with pytest.raises(NasbenchError, match="val_pairs is empty"):
        TrainingFreeEvaluator(space, teacher, surrogates, [])
    with pytest.raises(NasbenchError, match="cache_size must be an integer ≥ 0 or None"):
        TrainingFreeEvaluator(space, teacher, surrogates, val, cache_size=-1)
    evaluator = TrainingFreeEvaluator(space, teacher, surrogates, val)
    with pytest.raises(SurrogateError, match=r"no surrogate for \(middle\.0, naf_bn\)"):
        evaluator(space.baseline().replace(space, middle_0="naf_bn"))
    assert evaluator.misses == 0 and len(evaluator) == 0


# ---------------------------------------------------------------------- overflowing stitched networks
@pytest.fixture(scope="module")
def crops() -> CropDataset:
    return CropDataset(builtin_images("train"), 32, "noise", length=64, seed=0)


@pytest.fixture(scope="module")
def broken(surrogates: Surrogates) -> Surrogates:
    """A copy of the surrogates whose enc1.0/naf_bn BatchNorm statistics are far off (mean 1e38): its
    stitched network overflows, as stacked BN surrogates do when their statistics miss their real inputs."""
    broken = copy.deepcopy(surrogates)
    norms = [m for m in broken.blocks[("enc1.0", "naf_bn")].modules() if isinstance(m, _BatchNorm)]
    assert norms, "naf_bn has BatchNorm layers"
    with torch.no_grad():
        for m in norms:
            m.running_mean.fill_(1e38)
    return broken


def _arch(space: SearchSpace, label: str):  # noqa: ANN202
    return space.baseline().replace(space, enc1_0=label)


def test_never_recalibrating_raises_instead_of_returning_nan(space, teacher, broken, val) -> None:
    evaluator = TrainingFreeEvaluator(space, teacher, broken, val, recalibrate="never")
    with pytest.raises(NonFiniteEvaluation, match=r"enc1:naf_bn .*non-finite PSNR"):
        evaluator(_arch(space, "naf_bn"))
    with pytest.raises(NonFiniteEvaluation):  # the failure is cached like a result
        evaluator(_arch(space, "naf_bn"))
    assert (evaluator.misses, evaluator.hits, evaluator.recalibrated) == (1, 1, 0)


def test_failing_network_is_recalibrated_by_default(space, teacher, broken, val, crops) -> None:
    stored = copy.deepcopy(broken.blocks[("enc1.0", "naf_bn")].state_dict())
    evaluator = TrainingFreeEvaluator(space, teacher, broken, val, calibration=crops)
    result = evaluator(_arch(space, "naf_bn"))
    assert all(math.isfinite(v) for v in result.values()) and evaluator.recalibrated == 1
    after = broken.blocks[("enc1.0", "naf_bn")].state_dict()
    assert all(torch.equal(stored[k], after[k]) for k in stored)  # the surrogates themselves are untouched
    # A network that works is evaluated as it is: on_failure changes nothing for it.
    plain = TrainingFreeEvaluator(space, teacher, broken, val, recalibrate="never")
    assert evaluator(_arch(space, "conv_bn_relu")) == plain(_arch(space, "conv_bn_relu"))
    assert evaluator.recalibrated == 1


def test_always_recalibrating_re_estimates_every_substituted_network(space, teacher, broken, val, crops) -> None:
    evaluator = TrainingFreeEvaluator(space, teacher, broken, val, recalibrate="always", calibration=crops)
    assert evaluator(space.baseline())["psnr_drop_db"] == 0.0  # no substituted block: nothing to re-estimate
    assert evaluator.recalibrated == 0
    assert math.isfinite(evaluator(_arch(space, "naf_bn"))["psnr_db"])
    assert math.isfinite(evaluator(_arch(space, "conv_bn_relu"))["psnr_db"])
    assert evaluator.recalibrated == 2


def test_recalibrate_batchnorm_sets_the_batch_statistics_of_the_chosen_layers() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4))
    model.eval()
    batches = [torch.randn(8, 3, 6, 6) * 3 + 1 for _ in range(2)]
    assert recalibrate_batchnorm(model, batches, within=["1"]) == 1
    features = torch.cat([model[0](b) for b in batches]).detach()
    assert torch.allclose(model[1].running_mean, features.mean((0, 2, 3)), atol=1e-5)
    assert torch.equal(model[3].running_mean, torch.zeros(4))  # outside `within`: untouched
    assert model[1].momentum == 0.1 and not model.training
    assert recalibrate_batchnorm(model, batches) == 2
    assert not torch.equal(model[3].running_mean, torch.zeros(4))


def test_bad_recalibration_settings_are_clear_errors(space, teacher, broken, val) -> None:
    with pytest.raises(NasbenchError, match="recalibrate must be one of on_failure, always, never"):
        TrainingFreeEvaluator(space, teacher, broken, val, recalibrate="sometimes")
    with pytest.raises(NasbenchError, match="calibration_size must be an integer ≥ 1"):
        TrainingFreeEvaluator(space, teacher, broken, val, calibration_size=0)
    with pytest.raises(NasbenchError, match="calibration is empty"):
        TrainingFreeEvaluator(space, teacher, broken, val, calibration=[])


# ---------------------------------------------------------------------- the extension point
def test_evaluator_is_an_abstract_extension_point(space: SearchSpace) -> None:
    with pytest.raises(TypeError):
        Evaluator()  # type: ignore[abstract]

    class Size(Evaluator):
        objectives = ("substitutions",)

        def __call__(self, arch: Architecture) -> dict[str, float]:
            return {"substitutions": float(sum(a != b for a, b in zip(arch.labels, space.baseline().labels)))}

    size = Size()
    assert size(space.baseline().replace(space, enc1_0="naf_bn", dec1_0="naf_lite")) == {"substitutions": 2.0}


def test_function_evaluator_wraps_a_callable(space: SearchSpace) -> None:
    def count(arch: Architecture) -> dict[str, object]:
        return {"bn": sum(label == "naf_bn" for label in arch.labels), "lite": 0, "note": "ignored"}

    evaluator = FunctionEvaluator(count, ["bn", "lite"])
    assert isinstance(evaluator, Evaluator) and evaluator.objectives == ("bn", "lite")
    arch = space.baseline().replace(space, enc1_0="naf_bn", enc2_0="naf_bn")
    assert evaluator(arch) == {"bn": 2.0, "lite": 0.0}
    assert FunctionEvaluator(lambda a: (1, 2.5), ["x", "y"])(arch) == {"x": 1.0, "y": 2.5}


def test_function_evaluator_errors(space: SearchSpace) -> None:
    arch = space.baseline()
    with pytest.raises(NasbenchError, match="lacks y"):
        FunctionEvaluator(lambda a: {"x": 1.0}, ["x", "y"])(arch)
    with pytest.raises(NasbenchError, match="has 1 values, expected 2"):
        FunctionEvaluator(lambda a: [1.0], ["x", "y"])(arch)
    with pytest.raises(NasbenchError, match="objective 'x' is 'high', not a number"):
        FunctionEvaluator(lambda a: {"x": "high"}, ["x"])(arch)
    with pytest.raises(NasbenchError, match="expected a mapping or a sequence of numbers, got float"):
        FunctionEvaluator(lambda a: 1.0, ["x"])(arch)
    with pytest.raises(NasbenchError, match="names must be distinct"):
        FunctionEvaluator(lambda a: {}, ["x", "x"])
    with pytest.raises(NasbenchError, match="names must be a non-empty list of strings"):
        FunctionEvaluator(lambda a: {}, "x")
    with pytest.raises(NasbenchError, match="fn must be callable"):
        FunctionEvaluator(3, ["x"])  # type: ignore[arg-type]
