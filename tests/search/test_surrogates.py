"""Feature-wise surrogate distillation: learning, one teacher pass per batch, independence, exact resume,
NaN stops, stitching, files, and the errors of a wrong teacher, bad settings or a missing surrogate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import nasbench
from nasbench.errors import ArchitectureError, ModelError
from nasbench.search.surrogates import (
    CHECKPOINT_NAME,
    SurrogateError,
    Surrogates,
    check_teacher,
    distill_surrogates,
)
from nasbench.space import SearchSpace
from nasbench.train import CropDataset, TrainingError, builtin_images, load_checkpoint

FAST = {"batch_size": 2, "eval_batches": 1, "progress": False}


def active_teacher(space: SearchSpace, seed: int = 0) -> nn.Module:
    """The baseline of ``space`` with seeded weights and, NAFNet blocks being the identity at
    initialisation (β = γ = 0), β and γ drawn from [0.2, 0.6] so that every block does something."""
    torch.manual_seed(seed)
    teacher = space.build(space.baseline())
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in teacher.named_parameters():
            if name.endswith((".beta", ".gamma")):
                p.copy_(0.2 + 0.4 * torch.rand(p.shape, generator=generator))
    return teacher.eval()


@contextmanager
def teacher_calls(teacher: nn.Module, stop_at: int | None = None) -> Iterator[list[torch.Tensor]]:
    """Record the input of every teacher forward pass; raise KeyboardInterrupt on call ``stop_at``."""
    calls: list[torch.Tensor] = []

    def hook(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        calls.append(args[0].detach().clone())
        if stop_at is not None and len(calls) == stop_at:
            raise KeyboardInterrupt

    handle = teacher.register_forward_pre_hook(hook)
    try:
        yield calls
    finally:
        handle.remove()


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return nasbench.load_space("nafnet_tiny")


@pytest.fixture(scope="module")
def teacher(space: SearchSpace) -> nn.Module:
    return active_teacher(space)


@pytest.fixture(scope="module")
def crops() -> CropDataset:
    return CropDataset(builtin_images("train"), 32, "noise", length=256, seed=0)


@pytest.fixture(scope="module")
def distilled(space: SearchSpace, teacher: nn.Module, crops: CropDataset) -> Surrogates:
    return distill_surrogates(
        space, teacher, crops, steps=20, lr=2e-3, positions=["enc1.0", "dec1.0"], batch_size=4, progress=False
    )


# ---------------------------------------------------------------------- learning
def test_students_learn_the_teacher_blocks(distilled: Surrogates) -> None:
    assert set(distilled.blocks) == {
        (p, label) for p in ("enc1.0", "dec1.0") for label in ("naf_bn", "naf_lite", "conv_bn_relu")
    }
    for key, history in distilled.history.items():
        assert len(history) == 20
        assert np.mean(history[-5:]) < np.mean(history[:5]), key
        assert not distilled.blocks[key].training
    for position in ("enc1.0", "dec1.0"):
        for label in ("naf_bn", "naf_lite"):  # warm-started from the teacher block: better than the identity
            m = distilled.measurements[(position, label)]
            assert m.mse < 0.75 * m.identity_mse, (position, label, m)


def test_errors_table(distilled: Surrogates, space: SearchSpace) -> None:
    table = distilled.errors()
    assert list(table["position"]) == ["enc1.0"] * 3 + ["dec1.0"] * 3
    assert list(table["label"]) == ["naf_bn", "naf_lite", "conv_bn_relu"] * 2
    assert list(table["block"]) == list(table["label"])
    assert (table["steps"] == 20).all()
    assert np.allclose(table["relative_error"], table["feature_mse"] / table["teacher_mean_square"])
    assert np.allclose(table["identity_relative_error"], table["identity_mse"] / table["teacher_mean_square"])
    # The identity error and the teacher's scale belong to the position, not the candidate.
    for _, rows in table.groupby("position"):
        assert rows["identity_mse"].nunique() == 1 and rows["teacher_mean_square"].nunique() == 1
    assert (table["identity_mse"] > 0).all()


def test_restormer_student_learns(crops: CropDataset) -> None:
    space = nasbench.load_space("restormer_tiny")
    teacher = active_teacher(space)
    result = distill_surrogates(space, teacher, crops, steps=10, positions=["enc1.0"], **FAST)
    history = result.history[("enc1.0", "ssm")]
    m = result.measurements[("enc1.0", "ssm")]
    assert np.mean(history[-3:]) < np.mean(history[:3])
    assert m.mse < m.initial_mse


def test_students_start_warm_or_from_their_own_init(space: SearchSpace, teacher: nn.Module, crops: CropDataset):
    def start(init: str) -> Surrogates:
        result = distill_surrogates(space, teacher, crops, steps=1, positions=["enc2.0"], init=init, **FAST)
        assert result.settings["init"] == init
        return result

    own, warm = start("own"), start("warm")
    identity_mse = own.measurements[("enc2.0", "naf_bn")].identity_mse
    # Own init: NAFNet blocks are exactly the identity (β = γ = 0) ...
    assert own.measurements[("enc2.0", "naf_bn")].initial_mse == identity_mse
    assert own.measurements[("enc2.0", "naf_lite")].initial_mse == identity_mse
    # ... warm, they inherit the teacher block's weights and start closer to it than the identity.
    for label in ("naf_bn", "naf_lite"):
        assert warm.measurements[("enc2.0", label)].initial_mse < 0.75 * identity_mse
    # conv_bn_relu's own init adds a unit-scale branch (seen in train mode, on the first batch, before
    # any update); warm, it starts near the identity.
    first_own, first_warm = own.history[("enc2.0", "conv_bn_relu")][0], warm.history[("enc2.0", "conv_bn_relu")][0]
    assert first_own > 10 * first_warm
    assert first_warm == pytest.approx(own.history[("enc2.0", "naf_bn")][0], rel=0.1)  # naf_bn: the identity
    with pytest.raises(TrainingError, match=r"unknown init 'cold' \(known: warm, own\)"):
        distill_surrogates(space, teacher, crops, init="cold", **FAST)


# ---------------------------------------------------------------------- parameter-free candidates
def test_parameter_free_candidates_are_measured_not_trained(toy_space: SearchSpace, tmp_path: Path) -> None:
    teacher = active_teacher(toy_space)
    crops = CropDataset(builtin_images("train"), 16, "noise", length=32, seed=0)
    settings = {"steps": 4, "checkpoint_every": 2, **FAST}
    with teacher_calls(teacher) as calls:
        result = distill_surrogates(toy_space, teacher, crops, output=tmp_path / "run", **settings)
    assert len(calls) == 4 + 2
    labels = ("conv_bn_relu", "identity")
    assert set(result.blocks) == {(p.name, label) for p in toy_space.positions for label in labels}
    table = result.errors().set_index(["position", "label"])
    for position in toy_space.positions:
        identity = result.measurements[(position.name, "identity")]
        # Nothing trained: its error is that of passing the input through, before and after.
        assert identity.mse == identity.initial_mse == identity.identity_mse > 0
        assert table.loc[(position.name, "identity"), "steps"] == 0
        assert table.loc[(position.name, "conv_bn_relu"), "steps"] == 4
        assert table.loc[(position.name, "identity"), "relative_error"] > 0
    # Saved, loaded, stitched and resumed like any other surrogate.
    loaded = Surrogates.load(result.save(tmp_path / "saved"), toy_space)
    assert loaded.measurements == result.measurements
    paths = check_teacher(toy_space, teacher).values()
    arch = toy_space.architecture({p.name: "identity" for p in toy_space.positions})
    x = torch.rand(1, 3, 16, 16)
    skip = [teacher.get_submodule(path).register_forward_hook(lambda m, args, out: args[0]) for path in paths]
    try:
        with torch.no_grad():  # the teacher with every block skipped
            assert torch.equal(loaded.stitch(teacher, arch)(x), teacher(x))
    finally:
        for handle in skip:
            handle.remove()
    with teacher_calls(teacher) as calls:
        resumed = distill_surrogates(toy_space, teacher, crops, output=tmp_path / "run", resume=True, **settings)
    assert len(calls) == 1 and resumed.measurements == result.measurements


def test_only_parameter_free_alternatives_need_no_training(toy_space: SearchSpace) -> None:
    space = SearchSpace.from_dict({**toy_space.to_dict(), "name": "toy_skip", "candidates": ["naf", "identity"]})
    teacher = active_teacher(space)
    crops = CropDataset(builtin_images("train"), 16, "noise", length=16, seed=0)
    with teacher_calls(teacher) as calls:
        result = distill_surrogates(space, teacher, crops, steps=5, **FAST)
    assert len(calls) == 2  # the measurements before and after; no training step
    assert all(len(h) == 0 for h in result.history.values())
    assert result.errors()["feature_mse"].gt(0).all()


# ---------------------------------------------------------------------- one pass, independence
def test_one_teacher_pass_per_batch_feeds_every_position(
    space: SearchSpace, teacher: nn.Module, crops: CropDataset
) -> None:
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    with teacher_calls(teacher) as every:
        everything = distill_surrogates(space, teacher, crops, steps=3, **FAST)
    assert len(everything) == 3 * len(space.positions) == 33
    # 3 training steps plus one measuring batch before and one after training: 5, for 33 students.
    assert len(every) == 3 + 2
    with teacher_calls(teacher) as one:
        alone = distill_surrogates(space, teacher, crops, steps=3, positions=["enc2.0"], **FAST)
    assert len(one) == len(every)
    # Students are independent: distilled alone or with 32 others, a student ends up the same.
    for label in ("naf_bn", "naf_lite", "conv_bn_relu"):
        assert same_weights(alone.blocks[("enc2.0", label)], everything.blocks[("enc2.0", label)])
    # The teacher is left as it was: weights, eval mode, no hooks.
    assert all(torch.equal(v, before[k]) for k, v in teacher.state_dict().items())
    assert not teacher.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in teacher.modules())


def test_fraction_selects_a_fixed_subset(space: SearchSpace, teacher: nn.Module, crops: CropDataset) -> None:
    # 1/256 of the data is one crop: every training batch is that crop twice.
    with teacher_calls(teacher) as calls:
        result = distill_surrogates(space, teacher, crops, steps=3, fraction=1 / 256, positions=["enc1.0"], **FAST)
    assert result.settings["train_samples"] == 1
    training = calls[1:-1]
    assert len(training) == 3
    assert all(torch.equal(batch[0], training[0][0]) and torch.equal(batch[1], batch[0]) for batch in training)
    # The crops measured are others, not trained on.
    assert not torch.equal(calls[0][0], training[0][0])
    quarter = distill_surrogates(space, teacher, crops, steps=1, fraction=0.25, positions=["enc1.0"], **FAST)
    assert quarter.settings["train_samples"] == 64


# ---------------------------------------------------------------------- resume and NaN
def test_resume_is_bitwise_identical(space: SearchSpace, teacher: nn.Module, crops: CropDataset, tmp_path: Path):
    settings = {"steps": 6, "positions": ["enc1.0", "enc3.0"], "checkpoint_every": 2, "seed": 3, **FAST}
    straight = distill_surrogates(space, teacher, crops, output=tmp_path / "straight", **settings)
    # Teacher calls: 1 measuring batch, then steps 1, 2, ...; interrupt during step 5.
    with pytest.raises(KeyboardInterrupt), teacher_calls(teacher, stop_at=1 + 5):
        distill_surrogates(space, teacher, crops, output=tmp_path / "resumed", **settings)
    assert load_checkpoint(tmp_path / "resumed" / CHECKPOINT_NAME)["step"] == 4
    with teacher_calls(teacher) as calls:
        resumed = distill_surrogates(space, teacher, crops, output=tmp_path / "resumed", resume=True, **settings)
    assert len(calls) == 2 + 1  # steps 5 and 6, then the final measurement
    assert straight.blocks.keys() == resumed.blocks.keys()
    for key, block in straight.blocks.items():
        assert same_weights(block, resumed.blocks[key]), key
    assert straight.history == resumed.history
    assert straight.measurements == resumed.measurements
    assert load_checkpoint(tmp_path / "resumed" / CHECKPOINT_NAME)["step"] == 6


def test_resume_guards(space: SearchSpace, teacher: nn.Module, crops: CropDataset, tmp_path: Path) -> None:
    settings = {"steps": 2, "positions": ["enc1.0"], **FAST}
    distill_surrogates(space, teacher, crops, output=tmp_path, **settings)
    with pytest.raises(TrainingError, match="surrogates-checkpoint.pt: a checkpoint exists; pass resume=True"):
        distill_surrogates(space, teacher, crops, output=tmp_path, **settings)
    with pytest.raises(TrainingError, match="resume=True needs an output directory"):
        distill_surrogates(space, teacher, crops, resume=True, **settings)
    with pytest.raises(TrainingError, match=r"the checkpoint has lr=0\.001 but this call lr=0\.01"):
        distill_surrogates(space, teacher, crops, output=tmp_path, resume=True, lr=0.01, **settings)
    # A finished run resumes to itself without a teacher pass for training.
    with teacher_calls(teacher) as calls:
        distill_surrogates(space, teacher, crops, output=tmp_path, resume=True, **settings)
    assert len(calls) == 1


def test_non_finite_loss_names_position_and_candidate(
    space: SearchSpace, teacher: nn.Module, crops: CropDataset, tmp_path: Path
) -> None:
    calls = []

    def exploding_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        # 3 students per step: call 14 is step 5's second student, naf_lite.
        return F.mse_loss(pred, target) * (float("nan") if len(calls) == 14 else 1.0)

    with pytest.raises(TrainingError) as info:
        distill_surrogates(
            space, teacher, crops, steps=6, loss=exploding_mse, positions=["enc1.0"], output=tmp_path,
            checkpoint_every=2, **FAST,
        )  # fmt: skip
    message = str(info.value)
    assert "position enc1.0, candidate naf_lite" in message and "step 5: loss is nan" in message
    assert f"last good checkpoint: {tmp_path / CHECKPOINT_NAME}" in message
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)["step"] == 4


# ---------------------------------------------------------------------- stitching
def test_stitched_baseline_is_the_teacher(distilled: Surrogates, space: SearchSpace, teacher: nn.Module) -> None:
    stitched = distilled.stitch(teacher, space.baseline())
    assert stitched is not teacher and not stitched.training
    assert stitched.position_names == teacher.position_names
    assert same_weights(stitched, teacher)
    x = torch.rand(1, 3, 40, 36)
    with torch.no_grad():
        assert torch.equal(stitched(x), teacher(x))
    # Copies, not shared tensors.
    with torch.no_grad():
        next(stitched.parameters()).add_(1.0)
    assert not same_weights(stitched, teacher)


def test_stitch_puts_surrogates_at_substituted_positions(
    distilled: Surrogates, space: SearchSpace, teacher: nn.Module
) -> None:
    arch = space.baseline().replace(space, enc1_0="naf_lite", dec1_0="conv_bn_relu")
    stitched = distilled.stitch(teacher, str(arch))
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in stitched.modules())
    paths = {position: path for path, position in stitched.position_names.items()}
    teacher_paths = check_teacher(space, teacher)
    for position in space.positions:
        block = stitched.get_submodule(paths[position.name])
        label = arch[position.name]
        source = (
            teacher.get_submodule(teacher_paths[position.name])
            if label == position.candidates[0].label
            else distilled.blocks[(position.name, label)]
        )
        assert type(block) is type(source) and same_weights(block, source), position.name
    skeleton = {k for k in teacher.state_dict() if not k.startswith(tuple(p + "." for p in teacher_paths.values()))}
    assert skeleton and all(torch.equal(stitched.state_dict()[k], teacher.state_dict()[k]) for k in skeleton)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert not torch.equal(stitched(x), teacher(x))


def test_stitch_names_a_missing_surrogate(distilled: Surrogates, space: SearchSpace, teacher: nn.Module) -> None:
    arch = space.baseline().replace(space, enc1_0="naf_bn", enc2_0="naf_lite")
    with pytest.raises(SurrogateError, match=r"no surrogate for \(enc2\.0, naf_lite\); distilled surrogates: "):
        distilled.stitch(teacher, arch)
    other = nasbench.load_space("restormer_tiny")
    with pytest.raises(ArchitectureError, match="does not fit space 'nafnet_tiny'"):
        distilled.stitch(teacher, other.baseline())


# ---------------------------------------------------------------------- files
def test_save_and_load_round_trip(distilled: Surrogates, space: SearchSpace, teacher: nn.Module, tmp_path: Path):
    folder = distilled.save(tmp_path / "surrogates")
    weights = torch.load(folder / "surrogates.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in weights.values())
    assert "enc1.0/naf_bn/conv1.weight" in weights
    table = pd.read_csv(folder / "surrogates.csv")
    pd.testing.assert_frame_equal(table, distilled.errors(), check_dtype=False)
    manifest = json.loads((folder / "surrogates.json").read_text())
    assert manifest["space_name"] == "nafnet_tiny" and len(manifest["surrogates"]) == 6

    loaded = Surrogates.load(folder, space)
    assert loaded.blocks.keys() == distilled.blocks.keys()
    for key, block in distilled.blocks.items():
        assert same_weights(block, loaded.blocks[key])
    pd.testing.assert_frame_equal(loaded.errors(), distilled.errors())
    assert loaded.history == distilled.history and loaded.settings == distilled.settings
    arch = space.baseline().replace(space, dec1_0="naf_bn")
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.stitch(teacher, arch)(x), distilled.stitch(teacher, arch)(x))


def test_load_refuses_missing_or_foreign_directories(distilled: Surrogates, tmp_path: Path) -> None:
    space = distilled.space
    with pytest.raises(SurrogateError, match="no such surrogate directory"):
        Surrogates.load(tmp_path / "absent", space)
    with pytest.raises(SurrogateError, match=r"surrogates\.json: missing"):
        Surrogates.load(tmp_path, space)
    folder = distilled.save(tmp_path / "s")
    with pytest.raises(SurrogateError, match="surrogates of space 'nafnet_tiny', not of 'restormer_tiny'"):
        Surrogates.load(folder, nasbench.load_space("restormer_tiny"))
    redefined = SearchSpace.from_dict({**space.to_dict(), "candidates": ["naf", "naf_bn", "naf_lite"]})
    with pytest.raises(SurrogateError, match="another definition of space 'nafnet_tiny'"):
        Surrogates.load(folder, redefined)


def test_load_refuses_weights_of_another_save(distilled: Surrogates, tmp_path: Path) -> None:
    """A save killed between its files (new weights, old manifest) must not load as a mix of two saves."""
    folder = distilled.save(tmp_path / "s")
    weights = torch.load(folder / "surrogates.pt", weights_only=True)
    key = next(iter(weights))
    weights[key] = weights[key] + 1.0
    torch.save(weights, folder / "surrogates.pt")
    with pytest.raises(SurrogateError, match=r"surrogates\.pt: not the weights surrogates\.json was written with"):
        Surrogates.load(folder, distilled.space)
    distilled.save(folder)  # a complete save repairs the directory
    assert Surrogates.load(folder, distilled.space).blocks.keys() == distilled.blocks.keys()


def test_surrogates_check_their_blocks(space: SearchSpace) -> None:
    with pytest.raises(SurrogateError, match="candidate 'naf_bn' is block 'naf_bn' \\(NAFBNBlock\\)"):
        Surrogates(space, {("enc1.0", "naf_bn"): nasbench.create_block("naf_lite", 16)})
    with pytest.raises(SurrogateError, match="'naf' is the position's original block"):
        Surrogates(space, {("enc1.0", "naf"): nasbench.create_block("naf", 16)})
    with pytest.raises(SurrogateError, match="unknown candidate 'nafbn'"):
        Surrogates(space, {("enc1.0", "nafbn"): nasbench.create_block("naf_bn", 16)})
    by_hand = Surrogates(space, {("enc1.0", "naf_bn"): nasbench.create_block("naf_bn", 16)})
    assert by_hand.errors()["feature_mse"].isna().all()


# ---------------------------------------------------------------------- errors
def test_a_teacher_that_does_not_fit_is_refused(space: SearchSpace, crops: CropDataset) -> None:
    def run(teacher: nn.Module) -> Surrogates:
        return distill_surrogates(space, teacher, crops, steps=1, **FAST)

    with pytest.raises(ModelError, match="a Conv2d without position_names does not fit space 'nafnet_tiny'"):
        run(nn.Conv2d(3, 3, 1))
    restormer = nasbench.load_space("restormer_tiny")
    with pytest.raises(ModelError, match="its positions .* are not those of space 'nafnet_tiny'"):
        run(restormer.build())
    with pytest.raises(ModelError, match="position enc1.0 holds a NAFBNBlock, but the baseline .* has 'naf'"):
        run(space.build(space.baseline().replace(space, enc1_0="naf_bn")))
    narrow = SearchSpace.from_dict({**space.to_dict(), "backbone": {**space.to_dict()["backbone"], "width": 8}})
    with pytest.raises(ModelError, match=r"has shape 8×3×3×3, space 'nafnet_tiny' needs 16×3×3×3"):
        run(narrow.build())


def test_bad_settings_are_refused(space: SearchSpace, teacher: nn.Module, crops: CropDataset) -> None:
    for fraction in (0, 0.0, -0.5, 1.5, True, "half"):
        with pytest.raises(TrainingError, match=r"fraction must be a number in \(0, 1\]"):
            distill_surrogates(space, teacher, crops, fraction=fraction, **FAST)
    with pytest.raises(TrainingError, match="steps must be an integer ≥ 1"):
        distill_surrogates(space, teacher, crops, steps=0, **FAST)
    with pytest.raises(TrainingError, match="grad_clip must be > 0 or None"):
        distill_surrogates(space, teacher, crops, grad_clip=0.0, **FAST)
    with pytest.raises(TrainingError, match="distill_surrogates: unknown loss .huber. \\(known: l1, l2, "):
        distill_surrogates(space, teacher, crops, loss="huber", **FAST)
    with pytest.raises(ArchitectureError, match="unknown position 'enc9.0'"):
        distill_surrogates(space, teacher, crops, positions=["enc9.0"], **FAST)
    fixed = SearchSpace.from_dict({**space.to_dict(), "positions": {"middle.0": {"candidates": ["naf"]}}})
    with pytest.raises(SurrogateError, match="position middle.0 has only its original candidate"):
        distill_surrogates(fixed, fixed.build(), crops, positions=["middle.0"], **FAST)
    with pytest.raises(TrainingError, match="the training data are empty"):
        distill_surrogates(space, teacher, [], **FAST)
