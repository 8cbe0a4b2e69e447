"""MOBO acquisitions: the closed-form staircase EHVI against a Monte-Carlo hypervolume gain, the registry's
automatic choice, the lock-step local search, failures in the GP's training set, and the sampler's timings."""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch
from optuna.trial import TrialState

from nasbench import NasbenchError, SearchSpace, load_space
from nasbench.latency import LatencyTable
from nasbench.search.mobo import (
    MoboConfig,
    MoboSampler,
    StaircaseLogEHVI,
    build_problem,
    local_search,
    mobo,
    select_acquisition,
)
from nasbench.search.pareto import hypervolume

sys.path.insert(0, str(Path(__file__).parent))
from mobo_worker import TABLE, synthetic_quality  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return load_space("nafnet_tiny")


@pytest.fixture(scope="module")
def table() -> LatencyTable:
    return LatencyTable.load(TABLE)  # nafnet_tiny's shipped 64 px table


def _gp(x: torch.Tensor, y: torch.Tensor):  # noqa: ANN202
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import MixedSingleTaskGP
    from gpytorch.mlls import ExactMarginalLogLikelihood

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MixedSingleTaskGP(x, y, cat_dims=list(range(x.shape[1])))
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model


def test_staircase_ehvi_is_the_expected_hypervolume_gain() -> None:
    torch.manual_seed(0)
    x = torch.randint(0, 4, (12, 3)).double()
    model = _gp(x, -(x.sum(-1, keepdim=True) + 0.3 * torch.randn(12, 1, dtype=torch.float64)))  # GP of −drop
    front = torch.tensor([[6.0, 1.0], [4.0, 2.0], [2.5, 3.5], [3.0, 4.0], [1.0, 5.0]], dtype=torch.float64)
    reference = torch.tensor([9.0, 6.0], dtype=torch.float64)  # [drop, latency], minimisation form
    candidates = torch.tensor([[0, 1, 2], [3, 3, 3], [1, 0, 0], [2, 2, 1], [0, 0, 0]], dtype=torch.float64)
    latency = torch.tensor([0.5, 1.5, 2.8, 4.5, 6.5], dtype=torch.float64)
    exact = {tuple(c.long().tolist()): float(e) for c, e in zip(candidates, latency)}
    acq = StaircaseLogEHVI(
        model, front, reference, lambda X: torch.tensor([exact[tuple(r.long().tolist())] for r in X])
    )
    with torch.no_grad():
        log_ehvi = acq(candidates.unsqueeze(1))
        posterior = model.posterior(candidates.unsqueeze(1))
    mu, sd = -posterior.mean.reshape(-1).numpy(), posterior.variance.reshape(-1).sqrt().numpy()
    rng = np.random.default_rng(0)
    base = hypervolume(front.numpy(), reference.numpy())
    for i in range(len(candidates)):
        gains = np.array(
            [
                hypervolume(np.vstack([front.numpy(), [[y, float(latency[i])]]]), reference.numpy()) - base
                for y in rng.normal(mu[i], sd[i], 2000)
            ]
        )
        ehvi = math.exp(float(log_ehvi[i]))
        if latency[i] >= reference[1]:
            assert ehvi == 0.0 and gains.max() == 0.0  # beyond the reference: nothing to gain
        else:
            assert ehvi == pytest.approx(gains.mean(), abs=4 * gains.std() / math.sqrt(len(gains)) + 1e-9)


def test_auto_acquisition_is_the_closed_form_for_one_modelled_and_one_exact_objective(space, table) -> None:
    assert select_acquisition(build_problem(space, None, table)) == "staircase_ehvi"
    assert select_acquisition(build_problem(space, ["psnr_drop_db", "count:naf_bn"], None)) == "staircase_ehvi"
    two_measured = build_problem(space, ["psnr_drop_db", "ssim_drop", "latency_ms"], table)
    assert select_acquisition(two_measured) == "qlognehvi"
    with pytest.raises(NasbenchError, match="acquisition 'staircase_ehvi' cannot serve objectives"):
        MoboSampler(two_measured, MoboConfig(acquisition="staircase_ehvi"))
    with pytest.raises(NasbenchError, match="unknown acquisition 'ehvi'"):
        MoboConfig(acquisition="ehvi")


@pytest.mark.parametrize("acquisition", ["staircase_ehvi", "qlognehvi"])
def test_each_acquisition_drives_a_search(space, table, acquisition) -> None:
    result = mobo(
        space, synthetic_quality(space), table, n_evaluations=8, n_initial=5, acquisition=acquisition, progress=False
    )
    assert result.settings["acquisition_used"] == acquisition
    phases = [r["phase"] for r in result.history]
    assert phases.count("model") == 3 and len({r["architecture"] for r in result.history}) == 8


def test_lock_step_local_search_climbs_to_the_best_allowed_point(space, table) -> None:
    problem = build_problem(space, None, table)
    target = torch.tensor([3, 1, 2, 0, 3, 1, 2, 0, 3, 1, 2])

    def closeness(X: torch.Tensor) -> torch.Tensor:  # b × 1 × dim → b: −Hamming distance to the target
        return -(X.squeeze(1).long() != target).sum(-1).double()

    config = MoboConfig(raw_samples=8, restarts=3, max_climb_steps=30)
    rng = np.random.default_rng(0)
    assert local_search(closeness, problem, set(), torch.empty(0, 11), config, rng) == target.tolist()
    # With the target excluded, the best is one of its neighbours (distance 1).
    best = local_search(closeness, problem, {tuple(target.tolist())}, torch.empty(0, 11), config, rng)
    assert int((torch.tensor(best) != target).sum()) == 1


def _optimize(space, table, config: MoboConfig, n: int, fails=None) -> optuna.Study:  # noqa: ANN001
    """A plain Optuna study driven by MoboSampler on the synthetic problem; ``fails(trial, arch)`` trials
    raise (→ FAIL, as a non-finite evaluation does)."""
    problem = build_problem(space, None, table)
    quality = synthetic_quality(space)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=MoboSampler(problem, config))

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        arch = space.architecture({p.name: trial.suggest_categorical(p.name, list(p.labels)) for p in problem.free})
        if fails is not None and fails(trial, arch):
            raise ValueError("non-finite PSNR")
        return quality(arch)["psnr_drop_db"], table.predict(space, arch)

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=n, catch=(ValueError,))
    return study


def test_failed_evaluations_enter_the_training_set_at_a_bad_value(space, table) -> None:
    study = _optimize(space, table, MoboConfig(n_initial=100), 7, lambda trial, arch: trial.number in (2, 4))
    sampler = study.sampler
    obs = sampler.observations(study)
    assert (len(obs.x), len(obs.failed)) == (5, 2)
    x, y = sampler.training_data(obs)
    drops = obs.y[:, 0]
    worst = float(drops.max() + 0.1 * (drops.max() - drops.min()))
    assert x.shape == (7, 11) and torch.equal(x[5:], obs.failed)
    assert torch.allclose(-y[5:, 0], torch.tensor([worst, worst], dtype=torch.float64))
    assert torch.equal(-y[:5, 0], drops)
    off = MoboSampler(sampler.problem, MoboConfig(impute_failures=False)).training_data(obs)
    assert off[0].shape == (5, 11)


# Measured with this test's problem (model proposals that failed): neither failure imputation nor the
# lengthscale prior 22 of 22; the prior alone 22 of 22; imputation alone 22 of 24; both 10 of 24 (a random
# proposal fails with probability 7/16).
FAILING_TRIALS, MAX_MODEL_FAILURES = 30, 15


def test_the_sampler_steers_away_from_a_failing_region(space, table) -> None:
    # conv_bn_relu at the full-resolution positions is the fastest choice, so the hypervolume rewards it
    # most; here it always fails. A sampler that learns nothing from failures keeps proposing it.
    study = _optimize(
        space,
        table,
        MoboConfig(n_initial=6, raw_samples=256),
        FAILING_TRIALS,
        lambda trial, arch: "conv_bn_relu" in (arch["enc1.0"], arch["dec1.0"]),
    )
    model_phase = [t for t in study.trials if t.user_attrs["phase"] == "model"]
    failed = sum(t.state == TrialState.FAIL for t in model_phase)
    assert failed <= MAX_MODEL_FAILURES, f"{failed} of {len(model_phase)} model proposals failed"


def test_timings_are_moved_onto_the_trials_by_study_optimize(space, table) -> None:
    study = _optimize(space, table, MoboConfig(n_initial=3), 5)
    assert study.sampler.timings == {}
    phases = [t.user_attrs["phase"] for t in study.trials]
    assert phases == ["baseline", "initial", "initial", "model", "model"]
    assert all(t.user_attrs["proposal_s"] >= 0 for t in study.trials)
