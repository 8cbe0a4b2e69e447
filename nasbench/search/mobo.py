"""Multi-objective Bayesian optimisation over a categorical search space (BoTorch + Optuna storage).

The search proposes one architecture at a time:

1. **Initial design** — trial 0 is the baseline, then scrambled-Sobol points mapped to candidate indices
   (deterministic per trial number, so concurrent workers never propose the same initial point).
2. **Model** — one :class:`botorch.models.MixedSingleTaskGP` (Hamming-type categorical kernel, double
   precision; with ``lengthscale_prior`` a LogNormal(0, 1) prior on its lengthscales, median 1) over the
   *measured* objectives (e.g. PSNR drop). *Additive* objectives (LUT latency,
   parameters, number of transformer blocks) are not modelled: they are computed exactly inside the
   acquisition's objective, and budgets on them are enforced before anything is evaluated.
   Failed evaluations (exceptions, non-finite values) enter the training set with an imputed bad value
   (the worst observed value pushed out by ``failure_margin`` × its range), so the model learns to avoid
   the failing region instead of proposing into it again.
3. **Acquisition** — a registered acquisition (``register_acquisition``), with the running trials of
   other workers as pending points. ``auto`` picks the closed-form staircase log-EHVI when exactly one
   objective is modelled and one is exact (the default PSNR drop + LUT latency), else qLogNEHVI
   (``prune_baseline=True``). It is maximised over the discrete space by a registered optimizer:
   ``local_search`` (default: a random feasible pool, then Hamming-1 hill-climbing from the best points,
   all restarts scored in one batch per step) or ``alternating`` (BoTorch's
   ``optimize_acqf_mixed_alternating``; no budgets).

Every proposal and evaluation lives in an Optuna study, so several processes sharing one storage
(journal file, SQLite or a server database) search together, and a restarted search continues from the
storage. :class:`MoboSampler` is an ordinary Optuna sampler and can drive any study over a space.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState
from tqdm.auto import tqdm

from nasbench.errors import NasbenchError, known, suggest
from nasbench.latency.table import LatencyTable
from nasbench.search.objectives import (
    AdditiveTable,
    Objective,
    ObjectiveError,
    additive_table,
    parse_objective,
)
from nasbench.search.pareto import hypervolume, knee_point, pareto_mask, reference_point
from nasbench.search.result import SearchResult
from nasbench.search.storage import mark_worker, open_storage, reap_dead_trials
from nasbench.space import Architecture, SearchSpace

DEFAULT_OBJECTIVES = ("psnr_drop_db", "latency_ms")


@dataclass
class MoboConfig:
    """Search settings (our defaults; the deblurring paper publishes none)."""

    n_evaluations: int = 100
    n_initial: int = 10
    optimizer: str = "local_search"
    acquisition: str = "auto"
    raw_samples: int = 512
    restarts: int = 4
    max_climb_steps: int = 30
    mc_samples: int = 64
    fit_maxiter: int = 75
    lengthscale_prior: bool = True
    include_baseline: bool = True
    max_failures: int = 10
    impute_failures: bool = True
    failure_margin: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_evaluations < 1 or self.n_initial < 1:
            raise NasbenchError(
                f"mobo: n_evaluations and n_initial must be ≥ 1, got {self.n_evaluations}, {self.n_initial}"
            )
        if min(self.raw_samples, self.restarts, self.mc_samples, self.fit_maxiter, self.max_failures) < 1:
            raise NasbenchError("mobo: raw_samples, restarts, mc_samples, fit_maxiter and max_failures must be ≥ 1")
        if self.optimizer not in _OPTIMIZERS:
            raise NasbenchError(
                f"mobo: unknown optimizer {self.optimizer!r} {known(_OPTIMIZERS)}{suggest(self.optimizer, _OPTIMIZERS)}"
            )
        choices = ["auto", *_ACQUISITIONS]
        if self.acquisition not in choices:
            raise NasbenchError(
                f"mobo: unknown acquisition {self.acquisition!r} {known(choices)}{suggest(self.acquisition, choices)}"
            )
        if not (math.isfinite(self.failure_margin) and self.failure_margin >= 0):
            raise NasbenchError(f"mobo: failure_margin must be a finite number ≥ 0, got {self.failure_margin!r}")


# ---------------------------------------------------------------------- the problem
@dataclass
class Problem:
    """The search problem in index form: which positions are free, their sizes, the objectives, budgets."""

    space: SearchSpace
    objectives: list[Objective]
    additive: dict[str, AdditiveTable]
    bounds: dict[str, tuple[Objective, float]] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.free = [p for p in self.space.positions if p.searchable and p.name not in self.fixed]
        if not self.free:
            raise NasbenchError(f"space {self.space.name!r}: no searchable position is left free")
        self.sizes = [len(p.candidates) for p in self.free]
        base = []
        for p in self.space.positions:
            base.append(p.labels.index(self.fixed[p.name]) if p.name in self.fixed else 0)
        self.base = torch.tensor(base, dtype=torch.long)
        self.free_columns = torch.tensor([self.space.positions.index(p) for p in self.free], dtype=torch.long)
        self.measured = [o for o in self.objectives if o.kind == "measured"]

    @property
    def dim(self) -> int:
        return len(self.free)

    def distributions(self) -> dict[str, BaseDistribution]:
        return {p.name: CategoricalDistribution(list(p.labels)) for p in self.free}

    def full(self, x: torch.Tensor) -> torch.Tensor:
        """Index vectors over all positions for free-position index vectors ``x`` (… × dim)."""
        out = self.base.expand(*x.shape[:-1], len(self.base)).clone()
        out[..., self.free_columns] = x.round().long()
        return out

    def architecture(self, x: Sequence[int] | torch.Tensor) -> Architecture:
        return self.space.from_indices(self.full(torch.as_tensor(x)).tolist())

    def encode(self, params: Mapping[str, Any]) -> list[int] | None:
        """Free-position indices of a trial's parameters, or None if they do not belong to this problem."""
        try:
            return [p.labels.index(params[p.name]) for p in self.free]
        except (KeyError, ValueError):
            return None

    def params(self, x: Sequence[int]) -> dict[str, str]:
        return {p.name: p.labels[int(i)] for p, i in zip(self.free, x)}

    def feasible(self, x: torch.Tensor) -> torch.Tensor:
        """Mask of free-index vectors whose additive budgets hold (measured budgets are checked afterwards)."""
        ok = torch.ones(x.shape[:-1], dtype=torch.bool)
        full = self.full(x)
        for name, (obj, bound) in self.bounds.items():
            if name in self.additive:
                ok &= obj.sign * self.additive[name].tensor(full) <= obj.sign * bound + 1e-12
        return ok

    def satisfies(self, metrics: Mapping[str, float]) -> bool:
        """Whether evaluated ``metrics`` (evaluator outputs and additive values) meet every budget."""
        return all(
            obj.sign * metrics[name] <= obj.sign * bound + 1e-12
            for name, (obj, bound) in self.bounds.items()
            if name in metrics
        )

    def additive_values(self, arch: Architecture) -> dict[str, float]:
        return {name: table.value(arch) for name, table in self.additive.items()}


def build_problem(
    space: SearchSpace,
    objectives: Sequence[str | Objective] | None,
    latency_table: LatencyTable | None,
    *,
    constraints: Mapping[str, float] | None = None,
    fixed: Mapping[str, str] | Sequence[str] | None = None,
    input_size: Sequence[int] | None = None,
) -> Problem:
    """Resolve objective names, budgets and fixed positions into a :class:`Problem`.

    ``constraints`` maps an objective name to a bound: a maximum for minimised quantities, a minimum for
    maximised ones (``{"latency_ms": 40}``; ``{"psnr_db": 30}``). ``fixed`` pins positions to a label
    (``{"enc3.0": "naf"}``), or, given as a list of names, to their original candidate (protected positions).
    """
    objs = [parse_objective(o) for o in (objectives or DEFAULT_OBJECTIVES)]
    names = [o.name for o in objs]
    if len(set(names)) != len(names):
        raise ObjectiveError(f"objectives must be distinct, got {names}")
    if len(objs) < 2:
        raise ObjectiveError(f"mobo needs at least two objectives, got {names}")
    if not any(o.kind == "measured" for o in objs):
        raise ObjectiveError(f"objectives {names}: at least one must be measured by the evaluator")
    size = tuple(input_size[-2:]) if input_size is not None else None
    additive: dict[str, AdditiveTable] = {}
    bounds: dict[str, tuple[Objective, float]] = {}
    for name, bound in (constraints or {}).items():
        obj = next((o for o in objs if o.name == name), None) or parse_objective(name)
        if not isinstance(bound, int | float) or not math.isfinite(bound):
            raise ObjectiveError(f"constraint {name!r}: bound must be a finite number, got {bound!r}")
        bounds[obj.name] = (obj, float(bound))
        if obj.kind == "additive":
            additive[obj.name] = additive_table(obj, space, latency_table, size)
    for o in objs:
        if o.kind == "additive" and o.name not in additive:
            additive[o.name] = additive_table(o, space, latency_table, size)
    pinned: dict[str, str] = {}
    if fixed is not None:
        items = fixed.items() if isinstance(fixed, Mapping) else ((n, None) for n in fixed)
        for name, label in items:
            position = space.position(name)
            pinned[name] = position.candidate(label).label if label is not None else position.labels[0]
    return Problem(space, objs, additive, bounds, pinned)


# ---------------------------------------------------------------------- acquisition optimizers
AcqFn = Callable[[torch.Tensor], torch.Tensor]
Optimizer = Callable[[AcqFn, Problem, set[tuple[int, ...]], torch.Tensor, MoboConfig, np.random.Generator], list[int]]
_OPTIMIZERS: dict[str, Optimizer] = {}


def register_optimizer(name: str) -> Callable[[Optimizer], Optimizer]:
    """Register an acquisition optimizer ``fn(acq, problem, excluded, seeds, config, rng) -> indices``."""

    def decorate(fn: Optimizer) -> Optimizer:
        _OPTIMIZERS[name] = fn
        return fn

    return decorate


def _batched(acq: AcqFn, x: torch.Tensor) -> torch.Tensor:
    """``acq`` of every row of ``x`` (n × dim) as q = 1 batches, ``acq.batch_size`` rows per call (256)."""
    chunk = int(getattr(acq, "batch_size", 256))
    with torch.no_grad():
        return torch.cat([acq(x[i : i + chunk].double().unsqueeze(1)) for i in range(0, len(x), chunk)])


def _allowed(problem: Problem, x: torch.Tensor, excluded: set[tuple[int, ...]]) -> torch.Tensor:
    ok = problem.feasible(x)
    if excluded:
        ok &= torch.tensor([tuple(r) not in excluded for r in x.tolist()], dtype=torch.bool)
    return ok


def _neighbours(x: torch.Tensor, sizes: Sequence[int]) -> torch.Tensor:
    """All architectures at Hamming distance 1 from ``x`` (dim,) → (Σ(k − 1)) × dim."""
    rows = []
    for d, k in enumerate(sizes):
        for v in range(k):
            if v != int(x[d]):
                y = x.clone()
                y[d] = v
                rows.append(y)
    return torch.stack(rows)


@register_optimizer("local_search")
def local_search(
    acq: AcqFn,
    problem: Problem,
    excluded: set[tuple[int, ...]],
    seeds: torch.Tensor,
    config: MoboConfig,
    rng: np.random.Generator,
) -> list[int]:
    """Best of a random feasible pool plus the neighbours of ``seeds`` (the current Pareto set), improved by
    Hamming-1 hill-climbing from the ``restarts`` best starting points; never returns an excluded point.

    The climbs run in lock step: each step scores the neighbours of every still-improving start in one
    batch of acquisition calls."""
    sizes = problem.sizes
    pool = torch.tensor(np.stack([rng.integers(0, k, config.raw_samples) for k in sizes], axis=1))
    if len(seeds):
        pool = torch.cat([pool, *[_neighbours(s, sizes) for s in seeds]])
    pool = torch.unique(pool, dim=0)
    pool = pool[_allowed(problem, pool, excluded)]
    if not len(pool):
        raise NasbenchError("mobo: no unevaluated architecture satisfies the budgets; relax the constraints")
    values = _batched(acq, pool)
    order = torch.argsort(values, descending=True)[: config.restarts]
    points, scores = pool[order].clone(), values[order].clone()
    active = torch.ones(len(points), dtype=torch.bool)
    for _ in range(config.max_climb_steps):
        starts = torch.nonzero(active).flatten()
        if not len(starts):
            break
        nb = torch.stack([_neighbours(points[i], sizes) for i in starts.tolist()])  # starts × M × dim
        flat = nb.reshape(-1, problem.dim)
        nv = _batched(acq, flat).reshape(len(starts), -1)
        nv = torch.where(_allowed(problem, flat, excluded).reshape(nv.shape), nv, -math.inf)
        best_v, best_i = nv.max(dim=1)
        better = best_v > scores[starts]
        moved = starts[better]
        points[moved] = nb[better, best_i[better]]
        scores[moved] = best_v[better]
        active[starts[~better]] = False
    return [int(i) for i in points[int(torch.argmax(scores))]]


@register_optimizer("alternating")
def alternating(
    acq: AcqFn,
    problem: Problem,
    excluded: set[tuple[int, ...]],
    seeds: torch.Tensor,
    config: MoboConfig,
    rng: np.random.Generator,
) -> list[int]:
    """BoTorch's ``optimize_acqf_mixed_alternating`` over integer-encoded categories (no budgets)."""
    from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating

    if problem.bounds:
        raise NasbenchError("mobo: optimizer 'alternating' cannot enforce constraints; use 'local_search'")
    bounds = torch.tensor([[0.0] * problem.dim, [k - 1.0 for k in problem.sizes]], dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, _ = optimize_acqf_mixed_alternating(
            acq,  # type: ignore[arg-type]
            bounds,
            cat_dims={d: list(range(k)) for d, k in enumerate(problem.sizes)},
            options={"initialization_strategy": "random"},
            raw_samples=config.raw_samples,
            num_restarts=config.restarts,
        )
    best = [int(round(float(v))) for v in x.reshape(-1)]
    if tuple(best) in excluded:  # already evaluated: fall back to the best unevaluated neighbour
        return local_search(acq, problem, excluded, torch.tensor([best]), replace(config, raw_samples=64), rng)
    return best


# ---------------------------------------------------------------------- acquisitions
@dataclass(frozen=True)
class AcquisitionInputs:
    """What an acquisition builder gets for one proposal.

    ``model`` is the fitted BoTorch GP over the measured objectives in *maximisation* form (its outputs
    are ``−sign · value`` of ``problem.measured``, in order); ``x`` (n × dim, float64 free-position
    indices) and ``y`` (n × objectives, natural units) are the complete evaluations (no imputed
    failures); ``pending`` (p × dim or None) the architectures other workers are evaluating;
    ``reference`` the hypervolume reference point in minimisation form (``sign · value``)."""

    problem: Problem
    model: Any
    x: torch.Tensor
    y: torch.Tensor
    pending: torch.Tensor | None
    reference: torch.Tensor
    config: MoboConfig
    rng: np.random.Generator


AcquisitionBuilder = Callable[[AcquisitionInputs], AcqFn]


@dataclass(frozen=True)
class _Acquisition:
    build: AcquisitionBuilder
    applies: Callable[[Problem], bool]
    priority: int


_ACQUISITIONS: dict[str, _Acquisition] = {}


def register_acquisition(
    name: str, *, applies: Callable[[Problem], bool] | None = None, priority: int = 0
) -> Callable[[AcquisitionBuilder], AcquisitionBuilder]:
    """Register ``build(inputs) -> acq`` under ``name``: ``acq`` maps a b × 1 × dim batch of candidates to
    b scores (larger is better; an optional ``batch_size`` attribute sets how many candidates one call
    takes). ``applies(problem)`` says whether it can serve a problem; ``MoboConfig(acquisition="auto")``
    takes the applicable one with the highest ``priority``."""

    def decorate(fn: AcquisitionBuilder) -> AcquisitionBuilder:
        _ACQUISITIONS[name] = _Acquisition(fn, applies or (lambda problem: True), priority)
        return fn

    return decorate


def select_acquisition(problem: Problem, name: str = "auto") -> str:
    """The registered acquisition that serves ``problem``: ``name`` itself (checked), or for ``auto`` the
    applicable one with the highest priority."""
    names = [o.name for o in problem.objectives]
    if name != "auto":
        if name not in _ACQUISITIONS:
            raise NasbenchError(f"mobo: unknown acquisition {name!r} {known(['auto', *_ACQUISITIONS])}")
        if not _ACQUISITIONS[name].applies(problem):
            raise NasbenchError(f"mobo: acquisition {name!r} cannot serve objectives {names}; use 'auto'")
        return name
    usable = [(a.priority, n) for n, a in _ACQUISITIONS.items() if a.applies(problem)]
    if not usable:
        raise NasbenchError(f"mobo: no registered acquisition serves objectives {names}")
    return max(usable)[1]


@register_acquisition("qlognehvi")
def _qlognehvi(inputs: AcquisitionInputs) -> AcqFn:
    """BoTorch's qLogNEHVI (pruned baseline) with the additive objectives computed exactly in its MC
    objective; any number of modelled and exact objectives."""
    from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
    from botorch.acquisition.multi_objective.objective import GenericMCMultiOutputObjective
    from botorch.sampling import SobolQMCNormalSampler

    problem = inputs.problem

    def objective(samples: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
        if X is None:
            raise NasbenchError("mobo: the acquisition objective needs the candidate architectures")
        full = problem.full(X)
        columns, j = [], 0
        for o in problem.objectives:
            if o.kind == "measured":
                columns.append(samples[..., j])
                j += 1
            else:
                exact = -o.sign * problem.additive[o.name].tensor(full).to(samples)
                columns.append(exact.expand(samples.shape[:-1]))
        return torch.stack(columns, dim=-1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return qLogNoisyExpectedHypervolumeImprovement(
            inputs.model,
            ref_point=(-inputs.reference).tolist(),
            X_baseline=inputs.x,
            objective=GenericMCMultiOutputObjective(objective),
            prune_baseline=True,
            sampler=SobolQMCNormalSampler(
                torch.Size([inputs.config.mc_samples]), seed=int(inputs.rng.integers(2**31))
            ),
            X_pending=inputs.pending,
        )


def _one_modelled_one_exact(problem: Problem) -> bool:
    return len(problem.objectives) == 2 and len(problem.measured) == 1


class StaircaseLogEHVI(torch.nn.Module):
    """Closed-form log expected hypervolume improvement with one modelled and one exact objective.

    In minimisation form let the current front, sorted by the exact objective, be e_1 < … < e_K with
    modelled values m_1 > … > m_K, and the reference point (r_m, r_e). A candidate with exact value e
    and modelled value Y ~ N(μ, σ²) (the GP posterior) adds ∫_e^{r_e} max(0, L(a) − Y) da, where the
    staircase L(a) = min(r_m, min{m_k : e_k ≤ a}) is constant (L_k) on the step [e_k, e_{k+1}). Hence

        EHVI(e, μ, σ) = Σ_k w_k(e) · E[max(0, L_k − Y)] = σ · Σ_k w_k(e) · h((L_k − μ) / σ),

    with w_k(e) = max(0, e_{k+1} − max(e_k, e)) and h(z) = φ(z) + zΦ(z): one posterior per candidate,
    no Monte Carlo, any number of candidates per call. ``forward`` returns log EHVI (log h computed
    stably, so far-from-front candidates still rank), −inf where no step lies to the right of e.

    ``front`` is K × 2 [modelled, exact] in minimisation form (dominated points and points not better
    than ``reference`` are dropped here); ``exact(X)`` gives the exact objective (minimisation form) of
    b × dim candidates; ``model`` is a GP over the modelled objective in maximisation form (−m).
    """

    batch_size = 4096

    def __init__(
        self,
        model: Any,
        front: torch.Tensor,
        reference: torch.Tensor,
        exact: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        super().__init__()
        self.model, self.exact = model, exact
        front = front[(front < reference).all(-1)]
        if len(front):
            front = front[torch.as_tensor(pareto_mask(front.numpy()))]
            front = front[torch.argsort(front[:, 1])]
        inf = torch.tensor([-math.inf], dtype=torch.float64)
        self.starts = torch.cat([inf, front[:, 1]])  # step k covers [starts_k, ends_k) in the exact objective
        self.ends = torch.cat([front[:, 1], reference[1:2]])
        self.levels = torch.cat([reference[0:1], front[:, 0]])  # the staircase's modelled value on step k

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """log EHVI of a b × 1 × dim batch → b."""
        from botorch.acquisition.analytic import _log_ei_helper

        if X.dim() != 3 or X.shape[-2] != 1:
            raise NasbenchError(f"StaircaseLogEHVI: expected b × 1 × dim candidates (q = 1), got {tuple(X.shape)}")
        posterior = self.model.posterior(X)
        mu = -posterior.mean.reshape(-1)
        sigma = posterior.variance.reshape(-1).clamp_min(1e-18).sqrt()
        e = self.exact(X.squeeze(-2))
        width = (self.ends - torch.maximum(self.starts, e[:, None])).clamp_min(0.0)
        z = (self.levels - mu[:, None]) / sigma[:, None]
        return torch.logsumexp(width.log() + _log_ei_helper(z), dim=-1) + sigma.log()


@register_acquisition("staircase_ehvi", applies=_one_modelled_one_exact, priority=10)
def _staircase(inputs: AcquisitionInputs) -> AcqFn:
    """:class:`StaircaseLogEHVI` over the observed front; running trials of other workers join the front
    at their posterior mean (kriging believer)."""
    problem = inputs.problem
    m = next(i for i, o in enumerate(problem.objectives) if o.kind == "measured")
    exact_obj = problem.objectives[1 - m]
    table = problem.additive[exact_obj.name]

    def exact(X: torch.Tensor) -> torch.Tensor:
        return exact_obj.sign * table.tensor(problem.full(X)).to(torch.float64)

    signs = torch.tensor([o.sign for o in problem.objectives], dtype=torch.float64)
    y = signs * inputs.y
    points = torch.stack([y[:, m], y[:, 1 - m]], dim=-1)
    if inputs.pending is not None and len(inputs.pending):
        with torch.no_grad():
            believed = -inputs.model.posterior(inputs.pending.unsqueeze(1)).mean.reshape(-1)
        points = torch.cat([points, torch.stack([believed, exact(inputs.pending)], dim=-1)])
    reference = torch.stack([inputs.reference[m], inputs.reference[1 - m]])
    return StaircaseLogEHVI(inputs.model, points, reference, exact)


# ---------------------------------------------------------------------- the sampler
def _recyclable(trial: FrozenTrial) -> bool:
    """A FAIL trial whose architecture may be proposed again: its worker died or was interrupted, or it
    was a duplicate. Other FAIL trials are failed evaluations (modelled, never proposed again)."""
    return any(trial.system_attrs.get(f"nasbench_{why}") for why in ("reaped", "duplicate", "interrupted"))


@dataclass
class Observations:
    """A study's evaluations of one problem (free-position indices, float64): ``x`` (n × dim) and ``y``
    (n × objectives, natural units) of the complete trials, ``pending`` (running trials), ``failed``
    (evaluations that raised or gave non-finite values), and ``excluded``: index tuples never to propose."""

    x: torch.Tensor
    y: torch.Tensor
    pending: torch.Tensor
    failed: torch.Tensor
    excluded: set[tuple[int, ...]]


class MoboSampler(optuna.samplers.BaseSampler):
    """An Optuna sampler that proposes architectures of ``problem`` by MOBO (see the module docstring).

    It reads every finished trial from the study's storage, so it works for any number of workers. The
    study's objectives must be ``problem.objectives`` in order (values in natural units, directions as
    in the objectives). ``reference`` is the hypervolume reference point in natural units (default: the
    worst observed values pushed out by 10 % of their range).
    """

    def __init__(
        self,
        problem: Problem,
        config: MoboConfig | None = None,
        reference: Sequence[float] | None = None,
    ) -> None:
        self.problem = problem
        self.config = config or MoboConfig()
        self.reference = None if reference is None else [float(r) for r in reference]
        if self.reference is not None and len(self.reference) != len(problem.objectives):
            raise NasbenchError(
                f"mobo: reference point has {len(self.reference)} values for {len(problem.objectives)} objectives"
            )
        self.acquisition = select_acquisition(problem, self.config.acquisition)
        self._random = optuna.samplers.RandomSampler(seed=self.config.seed)
        self._hyper: dict[str, torch.Tensor] | None = None
        # Proposal time and phase by trial number, until the trial finishes (see after_trial).
        self.timings: dict[int, dict[str, Any]] = {}

    # -- optuna interface
    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self.problem.distributions()

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        start = time.perf_counter()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # small GP algebra: one thread is faster than two contending ones
        try:
            x, phase = self.propose(study, trial.number)
        finally:
            torch.set_num_threads(threads)
        self.timings[trial.number] = {"proposal_s": time.perf_counter() - start, "phase": phase}
        return self.problem.params(x)

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def reseed_rng(self) -> None:
        self._random.reseed_rng()

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        """Move this trial's proposal time and phase from :attr:`timings` onto the trial (user attributes
        ``phase``, ``proposal_s``, unless already set), so the dict only ever holds unfinished trials."""
        timing = self.timings.pop(trial.number, None)
        if timing is not None and "phase" not in trial.user_attrs:
            for key, value in timing.items():
                study._storage.set_trial_user_attr(trial._trial_id, key, value)

    # -- data from the storage
    def observations(self, study: optuna.Study) -> Observations:
        """What the study holds for this problem: complete, running and failed evaluations."""
        problem = self.problem
        xs, ys, pending, failed, excluded = [], [], [], [], set()
        for t in study.get_trials(deepcopy=False):
            x = problem.encode(t.params)
            if x is None:
                continue
            if t.state == TrialState.COMPLETE and t.values is not None and all(map(math.isfinite, t.values)):
                xs.append(x)
                ys.append(list(t.values))
                excluded.add(tuple(x))
            elif t.state == TrialState.RUNNING:
                pending.append(x)
                excluded.add(tuple(x))
            elif t.state == TrialState.FAIL and not _recyclable(t):
                failed.append(x)
                excluded.add(tuple(x))  # its evaluation failed; do not propose it again
        return Observations(
            torch.tensor(xs, dtype=torch.float64).reshape(-1, problem.dim),
            torch.tensor(ys, dtype=torch.float64).reshape(-1, len(problem.objectives)),
            torch.tensor(pending, dtype=torch.float64).reshape(-1, problem.dim),
            torch.tensor(failed, dtype=torch.float64).reshape(-1, problem.dim),
            excluded,
        )

    # -- proposals
    def propose(self, study: optuna.Study, number: int) -> tuple[list[int], str]:
        """Free-position indices for trial ``number`` and the phase that chose them."""
        obs = self.observations(study)
        rng = np.random.default_rng([self.config.seed, number])
        base = [0] * self.problem.dim
        if (
            self.config.include_baseline
            and tuple(base) not in obs.excluded
            and bool(self.problem.feasible(torch.tensor(base)))
        ):
            return base, "baseline"
        modelled_failures = len(obs.failed) if self.config.impute_failures else 0
        if not len(obs.x) or len(obs.x) + modelled_failures < self.config.n_initial:
            return self._initial(number, obs.excluded, rng), "initial"
        return self._model_proposal(obs, rng), "model"

    def _initial(self, number: int, excluded: set, rng: np.random.Generator) -> list[int]:
        sobol = torch.quasirandom.SobolEngine(self.problem.dim, scramble=True, seed=self.config.seed)
        u = sobol.draw(number + 1)[-1]
        x = torch.minimum((u * torch.tensor(self.problem.sizes)).floor().long(), torch.tensor(self.problem.sizes) - 1)
        for _ in range(1000):
            if tuple(x.tolist()) not in excluded and bool(self.problem.feasible(x)):
                return x.tolist()
            x = torch.tensor([int(rng.integers(0, k)) for k in self.problem.sizes])
        raise NasbenchError("mobo: could not find an unevaluated architecture within the budgets in 1000 draws")

    def training_data(self, obs: Observations) -> tuple[torch.Tensor, torch.Tensor]:
        """The GP's training set: complete evaluations, and — with ``impute_failures`` — failed ones at the
        worst observed value of each measured objective pushed out by ``failure_margin`` × its range.
        Outputs are the measured objectives in maximisation form (−sign · value)."""
        cols = [i for i, o in enumerate(self.problem.objectives) if o.kind == "measured"]
        signs = torch.tensor([self.problem.objectives[i].sign for i in cols], dtype=torch.float64)
        y = signs * obs.y[:, cols]  # minimisation form
        if not (self.config.impute_failures and len(obs.failed)):
            return obs.x, -y
        worst = torch.as_tensor(reference_point(y.numpy(), self.config.failure_margin), dtype=torch.float64)
        return torch.cat([obs.x, obs.failed]), -torch.cat([y, worst.expand(len(obs.failed), -1)])

    def _model_proposal(self, obs: Observations, rng: np.random.Generator) -> list[int]:
        problem = self.problem
        signs = torch.tensor([o.sign for o in problem.objectives], dtype=torch.float64)
        model = self._fit(*self.training_data(obs))
        if self.reference is not None:  # natural units → minimisation form
            reference = signs * torch.tensor(self.reference, dtype=torch.float64)
        else:  # the nadir heuristic over the complete evaluations
            reference = torch.as_tensor(reference_point((signs * obs.y).numpy()), dtype=torch.float64)
        inputs = AcquisitionInputs(
            problem, model, obs.x, obs.y, obs.pending if len(obs.pending) else None, reference, self.config, rng
        )
        acq = _ACQUISITIONS[self.acquisition].build(inputs)
        front = obs.x[torch.as_tensor(pareto_mask((signs * obs.y).numpy()))].long()
        return _OPTIMIZERS[self.config.optimizer](acq, problem, obs.excluded, front, self.config, rng)

    def _fit(self, x: torch.Tensor, y: torch.Tensor):  # noqa: ANN202 (botorch model)
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import MixedSingleTaskGP
        from gpytorch.mlls import ExactMarginalLogLikelihood
        from gpytorch.priors import LogNormalPrior

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = MixedSingleTaskGP(x, y, cat_dims=list(range(x.shape[1])))
            if self.config.lengthscale_prior:
                # Without a prior, maximum likelihood on a few points drives most lengthscales to ~0: every
                # unseen architecture then gets the prior mean and the acquisition follows the exact
                # objective alone (e.g. straight into a failing region of fast architectures).
                model.covar_module.base_kernel.register_prior(
                    "lengthscale_prior",
                    LogNormalPrior(0.0, 1.0),
                    lambda m: m.lengthscale,
                    lambda m, v: m._set_lengthscale(v),
                )
            if self._hyper is not None:  # warm start from the previous fit: far fewer optimizer steps
                with contextlib.suppress(RuntimeError):  # another number of outputs: keep the defaults
                    model.covar_module.load_state_dict(self._hyper["covar"])
                    model.likelihood.load_state_dict(self._hyper["likelihood"])
            mll = ExactMarginalLogLikelihood(model.likelihood, model)
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": self.config.fit_maxiter}})
        self._hyper = {"covar": model.covar_module.state_dict(), "likelihood": model.likelihood.state_dict()}
        return model


# ---------------------------------------------------------------------- the search
Evaluator = Callable[[Architecture], Mapping[str, float]]


def mobo(
    space: SearchSpace,
    evaluator: Evaluator,
    latency_table: LatencyTable | None = None,
    *,
    objectives: Sequence[str | Objective] | None = None,
    constraints: Mapping[str, float] | None = None,
    fixed: Mapping[str, str] | Sequence[str] | None = None,
    reference_point: Sequence[float] | None = None,
    storage: str | Path | optuna.storages.BaseStorage | None = None,
    study_name: str | None = None,
    input_size: Sequence[int] | None = None,
    config: MoboConfig | None = None,
    output: str | Path | None = None,
    progress: bool = True,
    **overrides: Any,
) -> SearchResult:
    """Search ``space`` by multi-objective BO; return the knee architecture, the history and the front.

    ``evaluator(arch)`` returns a mapping with every measured objective (default objectives:
    ``psnr_drop_db`` from the evaluator, ``latency_ms`` from ``latency_table``). The search stops when the
    study holds ``n_evaluations`` complete trials — counted over all workers sharing ``storage`` — so
    running it again on the same storage resumes, and starting it in several processes parallelises it.
    With ``output`` and no ``storage``, the study lives in ``output/study.journal``. Failed evaluations
    (exceptions or non-finite values) are recorded as FAIL and skipped; ``max_failures`` in a row stop the
    search. Settings come from ``config`` with keyword overrides (``n_evaluations=50``).
    """
    cfg = replace(config or MoboConfig(), **overrides)
    problem = build_problem(
        space, objectives, latency_table, constraints=constraints, fixed=fixed, input_size=input_size
    )
    if storage is None and output is not None:
        storage = Path(output) / "study.journal"
    study_name = study_name or f"mobo-{space.name}"
    sampler = MoboSampler(problem, cfg, reference_point)
    study = _open_study(problem, open_storage(storage), study_name, sampler)
    reap_dead_trials(study)
    bar = tqdm(total=cfg.n_evaluations, desc="mobo", disable=not progress, unit="eval")
    failures = 0
    try:
        while (done := _complete(study)) < cfg.n_evaluations:
            bar.n = done
            bar.refresh()
            trial = study.ask()
            mark_worker(study, trial)
            labels = [trial.suggest_categorical(p.name, list(p.labels)) for p in problem.free]
            arch = problem.architecture([p.labels.index(lab) for p, lab in zip(problem.free, labels)])
            timing = sampler.timings.pop(trial.number, {"proposal_s": 0.0, "phase": "enqueued"})
            trial.set_user_attr("architecture", str(arch))
            if _taken_by_other_trial(study, trial.number, str(arch)):
                # Two workers proposed the same architecture at the same moment.
                study._storage.set_trial_system_attr(trial._trial_id, "nasbench_duplicate", True)
                study.tell(trial, state=TrialState.FAIL)
                continue
            trial.set_user_attr("phase", timing["phase"])
            trial.set_user_attr("proposal_s", timing["proposal_s"])
            try:
                values, metrics = _evaluate(problem, evaluator, arch)
            except KeyboardInterrupt:
                study._storage.set_trial_system_attr(trial._trial_id, "nasbench_interrupted", True)
                study.tell(trial, state=TrialState.FAIL)
                raise
            except _EvaluationFailed as exc:
                failures += 1
                trial.set_user_attr("error", str(exc))
                study.tell(trial, state=TrialState.FAIL)
                warnings.warn(f"mobo: trial {trial.number} ({arch}) failed: {exc}", RuntimeWarning, stacklevel=2)
                if failures >= cfg.max_failures:
                    raise NasbenchError(f"mobo: {failures} evaluations in a row failed; last: {exc}") from None
                continue
            failures = 0
            for key, value in metrics.items():
                trial.set_user_attr(f"metric/{key}", value)
            trial.set_user_attr("feasible", problem.satisfies(metrics))
            study.tell(trial, values)
        bar.n = _complete(study)
        bar.refresh()
    finally:
        bar.close()
    result = result_from_study(
        space, study, problem, reference_point, settings=_settings(cfg, problem, storage, study_name)
    )
    if output is not None:
        result.save(output)
    return result


class _EvaluationFailed(Exception):
    """An evaluation that raised or gave non-finite values: recorded as a FAIL trial, the search goes on."""


def _evaluate(problem: Problem, evaluator: Evaluator, arch: Architecture) -> tuple[list[float], dict[str, float]]:
    try:
        raw = evaluator(arch)
    except (KeyboardInterrupt, NasbenchError):
        raise
    except Exception as exc:  # a user's evaluator may raise anything; the search records it and goes on
        raise _EvaluationFailed(f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise NasbenchError(f"mobo: the evaluator must return a mapping of metric → value, got {type(raw).__name__}")
    metrics = {str(k): float(v) for k, v in raw.items()}
    metrics.update(problem.additive_values(arch))
    values = []
    for o in problem.objectives:
        if o.name not in metrics:
            raise NasbenchError(
                f"mobo: the evaluator returned no {o.name!r} (it returned {sorted(raw)}); "
                f"choose objectives among its outputs"
            )
        values.append(metrics[o.name])
    if not all(math.isfinite(v) for v in values):
        raise _EvaluationFailed(
            f"non-finite objective values {dict(zip([o.name for o in problem.objectives], values))}"
        )
    return values, metrics


def _taken_by_other_trial(study: optuna.Study, number: int, arch: str) -> bool:
    """Whether another RUNNING or COMPLETE trial evaluates ``arch``.

    Each worker records its architecture *before* this check, so of two workers that proposed the same
    architecture at once at least the later checker sees the other and steps back (rarely both do).
    """
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.COMPLETE)):
        if t.number != number and t.user_attrs.get("architecture") == arch:
            return True
    return False


def _complete(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def _open_study(problem: Problem, storage: Any, name: str, sampler: MoboSampler) -> optuna.Study:
    directions = [o.direction for o in problem.objectives]
    signature = {
        "space": problem.space.name,
        "positions": [p.name for p in problem.free],
        "objectives": [o.name for o in problem.objectives],
    }
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            storage=storage, study_name=name, directions=directions, sampler=sampler, load_if_exists=True
        )
    except ValueError as exc:
        raise NasbenchError(f"study {name!r}: {exc}") from None
    stored = study.user_attrs.get("nasbench")
    if stored is None:
        study.set_user_attr("nasbench", signature)
    elif stored != signature or [d.name.lower() for d in study.directions] != directions:
        raise NasbenchError(
            f"study {name!r} in this storage was created for space {stored['space']!r} with objectives "
            f"{stored['objectives']} over {len(stored['positions'])} free positions; this search is "
            f"{signature['space']!r} with {signature['objectives']} over {len(signature['positions'])} — "
            f"use another study_name or storage"
        )
    return study


def _settings(cfg: MoboConfig, problem: Problem, storage: Any, study_name: str) -> dict[str, Any]:
    return {
        **asdict(cfg),
        "acquisition_used": select_acquisition(problem, cfg.acquisition),
        "objectives": [o.name for o in problem.objectives],
        "directions": [o.direction for o in problem.objectives],
        "constraints": {name: bound for name, (_, bound) in problem.bounds.items()},
        "fixed": dict(problem.fixed),
        "storage": None if storage is None or not isinstance(storage, str | Path) else str(storage),
        "study_name": study_name,
    }


def result_from_study(
    space: SearchSpace,
    study: optuna.Study,
    problem: Problem,
    reference: Sequence[float] | None = None,
    settings: dict[str, Any] | None = None,
) -> SearchResult:
    """A :class:`SearchResult` from the complete trials of ``study``: history in trial order with the
    hypervolume so far, the feasible Pareto front, and the knee architecture."""
    trials = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number)
    if not trials:
        raise NasbenchError(f"study {study.study_name!r} has no complete trial")
    names = [o.name for o in problem.objectives]
    signs = np.array([o.sign for o in problem.objectives])
    values = np.array([t.values for t in trials], dtype=float)
    ref = np.asarray(reference, dtype=float) * signs if reference is not None else reference_point(values * signs)
    feasible = np.array([bool(t.user_attrs.get("feasible", True)) for t in trials])
    history = []
    for k, t in enumerate(trials):
        seen = (values[: k + 1] * signs)[feasible[: k + 1]]
        row: dict[str, Any] = {
            "trial": t.number,
            "architecture": t.user_attrs.get("architecture", ""),
            "phase": t.user_attrs.get("phase", ""),
            "proposal_s": t.user_attrs.get("proposal_s", float("nan")),
            "feasible": bool(feasible[k]),
            **{n: float(v) for n, v in zip(names, t.values)},
            **{
                key[len("metric/") :]: v
                for key, v in t.user_attrs.items()
                if key.startswith("metric/") and key[7:] not in names
            },
            "hypervolume": hypervolume(seen, ref) if len(seen) else 0.0,
        }
        history.append(row)
    pool = np.flatnonzero(feasible) if feasible.any() else np.arange(len(trials))
    mask = pareto_mask(values[pool] * signs)
    front_idx = pool[mask]
    knee = int(pool[knee_point(values[pool] * signs)])
    front = sorted((history[i] for i in front_idx), key=lambda r: r[names[0]] * signs[0])
    arch = Architecture.parse(space, history[knee]["architecture"])
    settings = dict(settings or {})
    settings["reference_point"] = [float(r) for r in ref * signs]
    settings["knee_trial"] = history[knee]["trial"]
    return SearchResult(space, arch, "mobo", history, [dict(r) for r in front], settings)


__all__ = [
    "DEFAULT_OBJECTIVES",
    "AcquisitionInputs",
    "MoboConfig",
    "MoboSampler",
    "Observations",
    "Problem",
    "StaircaseLogEHVI",
    "build_problem",
    "local_search",
    "mobo",
    "register_acquisition",
    "register_optimizer",
    "result_from_study",
    "select_acquisition",
]
