"""MOBO vs Optuna's samplers on the tiny deblurring problem: hypervolume at equal evaluations, share of the
true front on an enumerable space, and time per proposal.

    python benchmarks/mobo.py [--quick] [--existing] [--seeds 3] [--evaluations 100] [--mobo raw_samples=256 ...]
                              [--same-budget] [--resume] [--jobs 2]

The problem: ``nafnet_tiny``, objectives (``psnr_drop_db``, ``latency_ms``); latency from the shipped table
``nasbench/profiles/tables/nafnet_tiny_256_t1.yaml``; quality from a :class:`TrainingFreeEvaluator` (a
nafnet_tiny teacher fine-tuned on the built-in motion-blur data, surrogates distilled for every position on
25 % of the crops). The teacher and the surrogates are kept in ``--output`` and reused when present
(``--existing`` insists on it: nothing is trained). The evaluator is deterministic, so one evaluation cache
(``--output``/evaluations.json, keyed by architecture string) is shared by every sampler, seed and problem.
Each finished search is appended to ``--output``/runs.json with the evaluator's fingerprint and the settings;
``--resume`` reuses the ones that match and runs only the rest (a multi-hour run survives an interruption).
``--jobs 2`` runs searches in two worker processes of one thread each (the stock BoTorchSampler's 600
proposals are most of the full protocol's time).

Every sampler drives a plain Optuna study (``study.optimize``), our ``MoboSampler`` included; trial 0 of
every study is the baseline (``enqueue_trial``). A proposal's time is the trial's wall time minus its
evaluation time. Two problems:

1. all 11 positions free (4^11 architectures): hypervolume after N evaluations, reference point = the
   worst value per objective over every architecture evaluated by any run, pushed out by 10 % of its range;
2. 6 positions free (4^6 = 4096; the others pinned to ``naf``): every architecture is evaluated, and each
   run's hypervolume is reported as a share of the true front's (reference point: the worst of the 4096
   pushed out by 10 %).

Targets (issue "MOBO"): our hypervolume ≥ every Optuna sampler's at equal evaluations (mean over seeds);
≥ 98 % of the true front's hypervolume; median proposal ≤ 1 s; faster than and above the stock
``optuna_integration.BoTorchSampler``. ``--quick`` is a smoke run (1 seed, 30 evaluations, 4 free positions,
short training, its own output folder); it prints its table and writes neither docs/benchmarks.md nor
docs/img.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from optuna.trial import TrialState
from report import IMG, ROOT, table, write_section
from tqdm.auto import tqdm

import nasbench
from nasbench.latency import LatencyTable
from nasbench.search.evaluator import NonFiniteEvaluation, TrainingFreeEvaluator
from nasbench.search.mobo import MoboConfig, MoboSampler, Problem, build_problem
from nasbench.search.pareto import hypervolume, hypervolume_history, pareto_mask, reference_point
from nasbench.search.surrogates import Surrogates, distill_surrogates
from nasbench.space import Architecture, SearchSpace
from nasbench.train import builtin_data, evaluate, finetune
from nasbench.train.checkpoint import atomic_write

SPACE = "nafnet_tiny"
OBJECTIVES = ("psnr_drop_db", "latency_ms")
TABLE = Path(nasbench.__file__).parent / "profiles" / "tables" / "nafnet_tiny_256_t1.yaml"
INPUT_SIZE = (256, 256)
# The enumerable problem frees the six positions at full to quarter resolution, where the candidates'
# latencies differ most; the 1/8- and 1/16-resolution positions stay at the original block.
SMALL_FREE = ("enc1.0", "enc2.0", "enc3.0", "dec3.0", "dec2.0", "dec1.0")
QUICK_FREE = ("enc1.0", "enc2.0", "dec2.0", "dec1.0")
STARTUP = 10  # start-up trials of every model-based sampler here (ours: n_initial; GP, BoTorch, TPE: default)


@dataclass(frozen=True)
class Settings:
    """What one invocation measures; stored next to its results."""

    teacher_steps: int
    distill_steps: int
    evaluations: int
    seeds: int
    small_free: tuple[str, ...]
    checkpoints: tuple[int, ...]
    data: tuple[tuple[str, Any], ...] = (("task", "deblur_motion"), ("crop", 64), ("val_max_side", 128))
    teacher_batch: int = 8
    teacher_lr: float = 3e-3
    teacher_warmup: int = 50
    distill_fraction: float = 0.25


FULL = Settings(teacher_steps=1200, distill_steps=200, evaluations=100, seeds=3, small_free=SMALL_FREE,
                checkpoints=(50, 100))  # fmt: skip
QUICK = Settings(teacher_steps=150, distill_steps=40, evaluations=30, seeds=1, small_free=QUICK_FREE,
                 checkpoints=(15, 30))  # fmt: skip


# ---------------------------------------------------------------------- samplers under test
SamplerFactory = Callable[[Problem, int, MoboConfig], optuna.samplers.BaseSampler]
SAMPLERS: dict[str, SamplerFactory] = {}
LABELS: dict[str, str] = {}
OURS = "mobo"


def register_sampler(key: str, label: str) -> Callable[[SamplerFactory], SamplerFactory]:
    """Register ``factory(problem, seed, mobo_config) -> sampler`` under ``key`` (``--samplers``)."""

    def decorate(fn: SamplerFactory) -> SamplerFactory:
        SAMPLERS[key], LABELS[key] = fn, label
        return fn

    return decorate


@register_sampler(OURS, "MoboSampler (ours)")
def _ours(problem: Problem, seed: int, config: MoboConfig) -> optuna.samplers.BaseSampler:
    return MoboSampler(problem, replace(config, seed=seed))


@register_sampler("nsga2", "NSGAIISampler")
def _nsga2(problem: Problem, seed: int, config: MoboConfig) -> optuna.samplers.BaseSampler:
    return optuna.samplers.NSGAIISampler(seed=seed)


@register_sampler("tpe", "TPESampler")
def _tpe(problem: Problem, seed: int, config: MoboConfig) -> optuna.samplers.BaseSampler:
    return optuna.samplers.TPESampler(seed=seed)


@register_sampler("gp", "GPSampler")
def _gp(problem: Problem, seed: int, config: MoboConfig) -> optuna.samplers.BaseSampler:
    return optuna.samplers.GPSampler(seed=seed)


@register_sampler("random", "RandomSampler")
def _random(problem: Problem, seed: int, config: MoboConfig) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


@register_sampler("botorch", "BoTorchSampler (optuna-integration)")
def _botorch(problem: Problem, seed: int, config: MoboConfig) -> optuna.samplers.BaseSampler:
    from optuna_integration import BoTorchSampler  # pip install optuna-integration

    return BoTorchSampler(seed=seed)


# The stock BoTorchSampler spends tens of seconds per proposal here (a 44-dimensional one-hot relaxation,
# 20 restarts × up to 200 L-BFGS-B iterations of qLogEHVI with 256 MC samples): the whole protocol would
# take hours on this box. Unless --same-budget, it runs (seeds, evaluations) on the 11-position problem only.
REDUCED: dict[str, tuple[int, int]] = {"botorch": (1, 50)}


@dataclass(frozen=True)
class Budget:
    seeds: int
    evaluations: int
    problems: tuple[str, ...]


def budget(key: str, settings: Settings, same: bool) -> Budget:
    """Seeds, evaluations and problems of sampler ``key``."""
    if same or key not in REDUCED:
        return Budget(settings.seeds, settings.evaluations, ("tiny", "enumerable"))
    seeds, evaluations = REDUCED[key]
    return Budget(min(seeds, settings.seeds), min(evaluations, settings.evaluations), ("tiny",))


def available_samplers(keys: list[str]) -> tuple[list[str], dict[str, str]]:
    """The requested samplers that can run here, and why the others cannot."""
    skipped = {}
    if "botorch" in keys:
        try:
            import optuna_integration  # noqa: F401
        except ImportError as exc:
            skipped["botorch"] = f"optuna-integration is not installed ({exc})"
    return [k for k in keys if k not in skipped], skipped


# ---------------------------------------------------------------------- teacher, surrogates, evaluator
def prepare_evaluator(
    space: SearchSpace, settings: Settings, output: Path, existing: bool
) -> tuple[TrainingFreeEvaluator, dict[str, float], Surrogates]:
    """The training-free evaluator: teacher fine-tuned (or resumed) in ``output/teacher``, surrogates
    distilled into (or loaded from) ``output/surrogates``. Returns it, the teacher's validation metrics
    and the surrogates."""
    train, val = builtin_data(**dict(settings.data))
    teacher_checkpoint = output / "teacher" / "last.pt"
    surrogate_dir = output / "surrogates"
    if existing:
        for path in (teacher_checkpoint, surrogate_dir / "surrogates.json"):
            if not path.exists():
                sys.exit(f"{path}: missing; run once without --existing to train the teacher and surrogates")
    teacher = space.build(space.baseline())
    done = teacher_checkpoint.exists()
    result = finetune(
        teacher,
        train,
        val,
        steps=settings.teacher_steps,
        batch_size=settings.teacher_batch,
        lr=settings.teacher_lr,
        warmup_steps=settings.teacher_warmup,
        checkpoint_dir=output / "teacher",
        resume=True,
        eval_every=max(settings.teacher_steps // 5, 1),
        progress=not done,
    )
    teacher.eval()
    metrics = result.metrics or evaluate(teacher, val)
    if (surrogate_dir / "surrogates.json").exists():
        surrogates = Surrogates.load(surrogate_dir, space)
        if surrogates.settings.get("steps") != settings.distill_steps:
            sys.exit(
                f"{surrogate_dir}: surrogates distilled for {surrogates.settings.get('steps')} steps, this run "
                f"wants {settings.distill_steps}; use another --output"
            )
    else:
        surrogates = distill_surrogates(
            space,
            teacher,
            train,
            fraction=settings.distill_fraction,
            steps=settings.distill_steps,
            output=surrogate_dir,
            resume=True,
        )
        surrogates.save(surrogate_dir)
    evaluator = TrainingFreeEvaluator(space, teacher, surrogates, val, cache_size=0, calibration=train)
    return evaluator, metrics, surrogates


def fingerprint(evaluator: TrainingFreeEvaluator, settings: Settings) -> str:
    """A hash of everything an evaluation depends on: teacher and surrogate weights, validation data and
    the evaluator's BatchNorm re-estimation (policy and calibration inputs)."""
    digest = hashlib.sha256(json.dumps(dict(settings.data)).encode())
    digest.update(evaluator.recalibrate.encode())
    for batch in evaluator.calibration:
        digest.update(batch.contiguous().numpy().tobytes())
    states = [evaluator.teacher.state_dict()] + [b.state_dict() for b in evaluator.surrogates.blocks.values()]
    for state in states:
        for key in sorted(state):
            digest.update(key.encode())
            digest.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class SharedCache:
    """The evaluator's results by architecture string, shared by every run and kept in ``path`` (JSON).

    The file records the :func:`fingerprint` of the evaluator; a file of another evaluator is ignored.
    ``evaluated`` counts the real evaluations of this process and of the workers it merged (:meth:`merge`),
    ``evaluation_s`` their time; ``new`` holds what this process evaluated itself.
    """

    def __init__(self, path: Path, evaluator: TrainingFreeEvaluator, key: str, read_only: bool = False) -> None:
        self.path, self.evaluator, self.key, self.read_only = path, evaluator, key, read_only
        self.results: dict[str, dict[str, float]] = {}
        if path.exists():
            stored = json.loads(path.read_text(encoding="utf-8"))
            if stored.get("fingerprint") == key:
                self.results = stored["results"]
            else:
                print(f"{path}: written for another teacher or other surrogates; starting a new cache")
        self.loaded = len(self.results)
        self.evaluated = 0
        self.evaluation_s = 0.0
        self._unsaved = 0
        self.new: dict[str, dict[str, float]] = {}  # evaluated by this process (a worker hands them back)

    def __call__(self, arch: Architecture) -> dict[str, float]:
        name = str(arch)
        if name not in self.results:
            start = time.perf_counter()
            try:
                self.results[name] = self.evaluator(arch)
            except NonFiniteEvaluation:  # kept as NaN: the searches record a failed evaluation
                self.results[name] = dict.fromkeys(self.evaluator.objectives, math.nan)
            self.evaluation_s += time.perf_counter() - start
            self.evaluated += 1
            self.new[name] = self.results[name]
            self._unsaved += 1
            if self._unsaved >= 200:
                self.save()
        return self.results[name]

    def merge(self, results: Mapping[str, dict[str, float]], seconds: float) -> None:
        """Add a worker's new evaluations (and their time) to this cache."""
        fresh = {k: v for k, v in results.items() if k not in self.results}
        self.results.update(fresh)
        self.evaluated += len(fresh)
        self.evaluation_s += seconds
        self._unsaved += len(fresh)

    def save(self) -> None:
        if self.read_only:  # a worker: the parent process owns the file
            return
        body = json.dumps({"fingerprint": self.key, "results": self.results})
        atomic_write(self.path, lambda f: f.write(body.encode()))
        self._unsaved = 0


# ---------------------------------------------------------------------- one search
class EvaluationFailed(Exception):
    """Non-finite objective values: the trial is recorded as FAIL (as :func:`nasbench.search.mobo` does)."""


@dataclass
class Run:
    """One sampler × problem × seed: objective values per trial (natural units; NaN for a failed
    evaluation), architectures, and for trials 1, 2, … the time each spent outside its evaluation (its
    proposal), in seconds."""

    sampler: str
    problem: str
    seed: int
    values: list[list[float]]
    architectures: list[str]
    proposal_s: list[float]
    wall_s: float
    warnings: dict[str, int]


def run_search(
    name: str, problem_name: str, problem: Problem, seed: int, n: int, cache: SharedCache, config: MoboConfig
) -> Run:
    """``n`` trials of sampler ``name`` in a fresh in-memory study; trial 0 is the baseline."""
    sampler = SAMPLERS[name](problem, seed, config)
    study = optuna.create_study(directions=[o.direction for o in problem.objectives], sampler=sampler)
    study.enqueue_trial(problem.params([0] * problem.dim))
    evaluation_s: dict[int, float] = {}

    def objective(trial: optuna.Trial) -> tuple[float, ...]:
        choice = [p.labels.index(trial.suggest_categorical(p.name, list(p.labels))) for p in problem.free]
        arch = problem.architecture(choice)
        start = time.perf_counter()
        metrics = {**cache(arch), **problem.additive_values(arch)}
        evaluation_s[trial.number] = time.perf_counter() - start
        trial.set_user_attr("architecture", str(arch))
        values = tuple(metrics[o.name] for o in problem.objectives)
        if not all(math.isfinite(v) for v in values):
            raise EvaluationFailed(f"{arch}: non-finite objective values {values}")
        return values

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # torch.jit.script, on lazy imports
        study.optimize(objective, n_trials=n, catch=(EvaluationFailed,))
    wall = time.perf_counter() - start
    counts: dict[str, int] = {}
    for w in caught:
        counts[w.category.__name__] = counts.get(w.category.__name__, 0) + 1
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    bad = [t.number for t in trials if t.state not in (TrialState.COMPLETE, TrialState.FAIL)]
    if bad:
        raise RuntimeError(f"{name}, {problem_name}, seed {seed}: trials {bad} did not complete")
    proposal = [
        (t.datetime_complete - t.datetime_start).total_seconds() - evaluation_s[t.number] for t in trials[1:]
    ]  # trial 0 is the enqueued baseline: nothing was proposed
    return Run(
        name,
        problem_name,
        seed,
        [list(t.values) if t.state == TrialState.COMPLETE else [math.nan] * len(problem.objectives) for t in trials],
        [t.user_attrs["architecture"] for t in trials],
        proposal,
        wall,
        counts,
    )


RunKey = tuple[str, str, int]  # (problem, sampler, seed)


class RunStore:
    """Finished searches, kept in ``path`` (JSON) with a stamp: the evaluator's :func:`fingerprint`, the
    :class:`Settings` and the :class:`MoboConfig`. :meth:`load` returns the stored runs when the stamp equals
    this invocation's (``--resume``: they are kept, used or not) and says why it reuses nothing otherwise;
    :meth:`add` rewrites the file (atomically) with the runs kept and added so far, all of this stamp."""

    def __init__(self, path: Path, stamp: Mapping[str, Any]) -> None:
        self.path = path
        self.stamp = json.loads(json.dumps(stamp))  # tuples as lists, as they come back from the file
        self.runs: dict[RunKey, Run] = {}

    def load(self) -> dict[RunKey, Run]:
        if not self.path.exists():
            return {}
        stored = json.loads(self.path.read_text(encoding="utf-8"))
        if not isinstance(stored, dict) or "stamp" not in stored:
            print(f"{self.path}: no stamp (written by an older version of this script); reusing no run")
            return {}
        differ = sorted(k for k in {*self.stamp, *stored["stamp"]} if self.stamp.get(k) != stored["stamp"].get(k))
        if differ:
            print(f"{self.path}: made with another {' and '.join(differ)}; reusing no run")
            return {}
        self.runs = {(r["problem"], r["sampler"], r["seed"]): Run(**r) for r in stored["runs"]}
        return dict(self.runs)

    def add(self, run: Run) -> None:
        self.runs[(run.problem, run.sampler, run.seed)] = run
        body = json.dumps({"stamp": self.stamp, "runs": [asdict(r) for r in self.runs.values()]}) + "\n"
        atomic_write(self.path, lambda f: f.write(body.encode()))


@dataclass(frozen=True)
class Job:
    """One search to run: problem, sampler key, seed, number of trials."""

    problem: str
    sampler: str
    seed: int
    evaluations: int

    @property
    def key(self) -> RunKey:
        return (self.problem, self.sampler, self.seed)


def plan_jobs(problems: list[str], keys: list[str], settings: Settings, same_budget: bool) -> list[Job]:
    """Every search of the benchmark, problem by problem, sampler by sampler, seed by seed."""
    return [
        Job(problem, key, seed, plan.evaluations)
        for problem in problems
        for key in keys
        if problem in (plan := budget(key, settings, same_budget)).problems
        for seed in range(plan.seeds)
    ]


def longest_first(jobs: list[Job], done: Iterable[Run]) -> list[Job]:
    """``jobs`` by the mean wall time of ``done`` searches of the same sampler, longest first (samplers with
    none first, in plan order), so that parallel workers finish together."""
    walls: dict[str, list[float]] = {}
    for run in done:
        walls.setdefault(run.sampler, []).append(run.wall_s)
    return sorted(jobs, key=lambda j: -statistics.mean(walls.get(j.sampler, [math.inf])))


def build_problems(space: SearchSpace, latency: LatencyTable, settings: Settings) -> dict[str, Problem]:
    """The two problems: ``tiny`` (every position free) and ``enumerable`` (``settings.small_free`` free)."""
    pinned = [p.name for p in space.searchable_positions if p.name not in settings.small_free]
    return {
        "tiny": build_problem(space, OBJECTIVES, latency, input_size=INPUT_SIZE),
        "enumerable": build_problem(space, OBJECTIVES, latency, input_size=INPUT_SIZE, fixed=pinned),
    }


_WORKER: dict[str, Any] = {}  # per worker process: its problems, cache and MoboConfig


def _start_worker(settings: Settings, output: Path, key: str, config: MoboConfig) -> None:
    """A worker's own evaluator (teacher and surrogates from ``output``) and a read-only copy of the cache."""
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    space = nasbench.load_space(SPACE)
    evaluator, _, _ = prepare_evaluator(space, settings, output, existing=True)
    if fingerprint(evaluator, settings) != key:
        raise RuntimeError(f"{output}: the worker's evaluator differs from the parent's")
    cache = SharedCache(output / "evaluations.json", evaluator, key, read_only=True)
    _WORKER.update(problems=build_problems(space, LatencyTable.load(TABLE), settings), cache=cache, config=config)


def _search_in_worker(job: Job) -> tuple[Run, dict[str, dict[str, float]], float]:
    """Run ``job`` in a worker; returns the run, the evaluations it added and their time."""
    cache: SharedCache = _WORKER["cache"]
    cache.new, cache.evaluation_s = {}, 0.0
    run = run_search(
        job.sampler, job.problem, _WORKER["problems"][job.problem], job.seed, job.evaluations, cache, _WORKER["config"]
    )
    return run, cache.new, cache.evaluation_s


def run_jobs(
    jobs: list[Job], jobs_at_once: int, cache: SharedCache, store: RunStore, problems: Mapping[str, Problem],
    config: MoboConfig, settings: Settings, output: Path,
) -> None:  # fmt: skip
    """Run ``jobs`` here (``jobs_at_once`` 1) or in that many spawned workers; each finished run goes to
    ``store`` and its new evaluations to ``cache`` at once."""

    def done(job: Job, run: Run, new: int) -> None:
        store.add(run)
        cache.save()
        print(
            f"{job.problem:>10} | {LABELS[job.sampler]:<36} seed {job.seed}: wall {run.wall_s:6.1f} s, median "
            f"proposal {statistics.median(run.proposal_s[STARTUP - 1 :]):.3f} s, new evaluations {new}",
            flush=True,
        )

    if jobs_at_once == 1:
        for job in jobs:
            before = cache.evaluated
            run = run_search(job.sampler, job.problem, problems[job.problem], job.seed, job.evaluations, cache, config)
            done(job, run, cache.evaluated - before)
        return
    cache.save()  # the workers start from everything evaluated so far
    context = multiprocessing.get_context("spawn")
    initargs = (settings, output, cache.key, config)
    with ProcessPoolExecutor(jobs_at_once, mp_context=context, initializer=_start_worker, initargs=initargs) as pool:
        futures = {pool.submit(_search_in_worker, job): job for job in jobs}
        for future in as_completed(futures):
            run, new, seconds = future.result()
            before = cache.evaluated
            cache.merge(new, seconds)
            done(futures[future], run, cache.evaluated - before)


# ---------------------------------------------------------------------- figures
def minimised(values: list[list[float]], problem: Problem) -> np.ndarray:
    return np.asarray(values, dtype=float) * np.array([o.sign for o in problem.objectives])


def finite(values: np.ndarray) -> np.ndarray:
    """The rows of complete evaluations (failed ones are NaN)."""
    return values[np.isfinite(values).all(1)]


def hv_curve(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Hypervolume after each trial (minimisation form); a failed trial adds nothing."""
    ok = np.isfinite(values).all(1)
    history = hypervolume_history(values[ok], reference)
    return np.array([history[int(ok[: k + 1].sum()) - 1] if ok[: k + 1].any() else 0.0 for k in range(len(values))])


@dataclass
class Summary:
    """Per sampler key: hypervolume curves (seeds × evaluations, divided by ``scale``), the proposal times
    of trials ≥ ``STARTUP`` pooled over seeds, the numbers of distinct architectures and of failed
    evaluations per seed, and how many warnings each category raised during its runs."""

    curves: dict[str, np.ndarray]
    proposal_s: dict[str, list[float]]
    distinct: dict[str, list[int]]
    failed: dict[str, list[int]]
    warned: dict[str, dict[str, int]]
    reference: np.ndarray
    scale: float

    def at(self, key: str, k: int | None = None) -> float:
        """Mean over seeds of the hypervolume after ``k`` evaluations (default: the sampler's last)."""
        curve = self.curves[key]
        return float(curve[:, (k or curve.shape[1]) - 1].mean())

    def length(self, key: str) -> int:
        return int(self.curves[key].shape[1])


def summarise(runs: list[Run], problem: Problem, reference: np.ndarray, scale: float) -> Summary:
    curves: dict[str, list[np.ndarray]] = {}
    proposal: dict[str, list[float]] = {}
    distinct: dict[str, list[int]] = {}
    warned: dict[str, dict[str, int]] = {}
    failed: dict[str, list[int]] = {}
    for r in runs:
        curves.setdefault(r.sampler, []).append(hv_curve(minimised(r.values, problem), reference) / scale)
        failed.setdefault(r.sampler, []).append(int(np.isnan(r.values).any(1).sum()))
        proposal.setdefault(r.sampler, []).extend(r.proposal_s[STARTUP - 1 :])
        distinct.setdefault(r.sampler, []).append(len(set(r.architectures)))
        for category, count in r.warnings.items():
            warned.setdefault(r.sampler, {}).setdefault(category, 0)
            warned[r.sampler][category] += count
    return Summary({k: np.stack(v) for k, v in curves.items()}, proposal, distinct, failed, warned, reference, scale)


def spread(values: np.ndarray, digits: int, unit: str = "") -> str:
    """mean ± sd [min–max] of one value per seed."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}{unit} (1 seed)"
    sd = float(np.std(values, ddof=1))
    return f"{values.mean():.{digits}f}{unit} ± {sd:.{digits}f} [{values.min():.{digits}f}–{values.max():.{digits}f}]"


def rows_for(summary: Summary, checkpoints: tuple[int, ...], percent: bool) -> list[dict[str, object]]:
    rows = []
    factor, unit, digits = (100.0, " %", 2) if percent else (1.0, "", 1)
    for key, curve in summary.curves.items():
        row: dict[str, object] = {"sampler": LABELS[key]}
        for k in checkpoints:
            label = f"% of true HV @{k}" if percent else f"HV @{k} (dB·ms)"
            row[label] = spread(curve[:, k - 1] * factor, digits, unit) if k <= curve.shape[1] else "not run"
        times = summary.proposal_s[key]
        row["distinct archs"] = "/".join(str(d) for d in summary.distinct[key])
        row["failed evals"] = "/".join(str(d) for d in summary.failed[key])
        row["median proposal s"] = f"{statistics.median(times):.3f}"
        row["p90 proposal s"] = f"{float(np.percentile(times, 90)):.3f}"
        rows.append(row)
    return rows


def verdicts(tiny: Summary, small: Summary, checkpoints: tuple[int, ...], best_known: float) -> list[str]:
    """The issue's targets, each with the measured numbers and met / not met. A sampler run for fewer
    evaluations is compared with ours after as many."""
    if OURS not in tiny.curves or OURS not in small.curves:
        return ["- Targets not evaluated: MoboSampler was not among the samplers run."]
    out = []
    others = [k for k in tiny.curves if k != OURS]
    higher = [k for k in others if tiny.at(k) > tiny.at(OURS, tiny.length(k))]
    out.append(
        f"- HV ≥ every Optuna sampler's at equal evaluations (11 free positions, mean over seeds): "
        f"**{'met' if not higher else 'not met'}** — ours {tiny.at(OURS):.1f} after {tiny.length(OURS)}"
        + "".join(f"; {LABELS[k]} {tiny.at(k):.1f} vs ours {tiny.at(OURS, tiny.length(k)):.1f}" for k in higher)
        + f" (the best-known front, from every run and the enumerated architectures, has {best_known:.1f})."
    )
    share = small.curves[OURS]
    shares = ", ".join(
        f"{100 * share[:, k - 1].mean():.2f} % after {k} (worst seed {100 * share[:, k - 1].min():.2f} %)"
        for k in checkpoints
    )
    out.append(f"- ≥ 98 % of the true front's HV: **{'met' if small.at(OURS) >= 0.98 else 'not met'}** — {shares}.")
    higher_small = [k for k in small.curves if k != OURS and small.at(k) > small.at(OURS, small.length(k))]
    if higher_small:
        out.append(
            "- On the enumerable problem a higher mean share than ours: "
            + ", ".join(f"{LABELS[k]} {100 * small.at(k):.2f} %" for k in higher_small)
            + "."
        )
    times = tiny.proposal_s[OURS] + small.proposal_s[OURS]
    median = statistics.median(times)
    out.append(
        f"- Median proposal ≤ 1 s: **{'met' if median <= 1.0 else 'not met'}** — {median:.3f} s over {len(times)} "
        f"proposals after the start-up (p90 {np.percentile(times, 90):.3f} s, max {max(times):.3f} s)."
    )
    if "botorch" in tiny.curves:
        n, seeds = tiny.length("botorch"), tiny.curves["botorch"].shape[0]
        theirs, ours_s = statistics.median(tiny.proposal_s["botorch"]), statistics.median(tiny.proposal_s[OURS])
        ours_n, ours_same = tiny.at(OURS, n), float(tiny.curves[OURS][:seeds, n - 1].mean())
        met = theirs > ours_s and tiny.at("botorch") < min(ours_n, ours_same)
        out.append(
            f"- Versus the stock BoTorchSampler, faster and higher HV: **{'met' if met else 'not met'}** — median "
            f"proposal {theirs:.3f} s (trials {STARTUP}–{n - 1}) vs ours {ours_s:.3f} s (trials {STARTUP}–"
            f"{tiny.length(OURS) - 1}) on the same problem; HV after {n} evaluations {tiny.at('botorch'):.1f} "
            f"({seeds} seed(s)) vs ours {ours_same:.1f} on the same seed(s), {ours_n:.1f} mean of our "
            f"{tiny.curves[OURS].shape[0]} seeds."
        )
    for summary, name in ((tiny, "11 free positions"), (small, "enumerable problem")):
        for key, counts in summary.warned.items():
            listed = ", ".join(f"{category} ×{count}" for category, count in sorted(counts.items()))
            out.append(f"- Warnings raised while {LABELS[key]} ran ({name}): {listed}.")
    return out


def plot(panels: Mapping[str, tuple[Summary, str]], path: Path) -> None:
    """HV vs evaluations, mean over seeds with the min–max band, one panel per problem."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.4), squeeze=False)
    for ax, (title, (summary, ylabel)) in zip(axes[0], panels.items()):
        for key, curve in summary.curves.items():
            x = np.arange(1, curve.shape[1] + 1)
            (line,) = ax.plot(x, curve.mean(0), label=LABELS[key], lw=2.4 if key == OURS else 1.3)
            ax.fill_between(x, curve.min(0), curve.max(0), color=line.get_color(), alpha=0.15, lw=0)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("evaluations")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


# ---------------------------------------------------------------------- the benchmark
def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``--mobo KEY=VALUE`` items as :class:`MoboConfig` keyword overrides (values cast to the field's type)."""
    defaults = asdict(MoboConfig())
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in defaults or not value:
            sys.exit(f"--mobo {item!r}: expected KEY=VALUE with KEY one of {', '.join(defaults)}")
        kind = type(defaults[key])
        out[key] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return out


def enumerate_front(problem: Problem, cache: SharedCache) -> np.ndarray:
    """Objective values (minimisation form) of every architecture of ``problem``."""
    values = []
    for choice in tqdm(list(itertools.product(*[range(k) for k in problem.sizes])), desc="enumerate", unit="arch"):
        arch = problem.architecture(list(choice))
        metrics = {**cache(arch), **problem.additive_values(arch)}
        values.append([metrics[o.name] for o in problem.objectives])
    cache.save()
    return minimised(values, problem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run; writes no docs")
    parser.add_argument("--existing", action="store_true", help="use the teacher and surrogates in --output")
    parser.add_argument("--output", default=None, help="default runs/bench_mobo (runs/bench_mobo_quick with --quick)")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--evaluations", type=int, default=None)
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=list(SAMPLERS))
    parser.add_argument("--mobo", action="append", default=[], metavar="KEY=VALUE", help="MoboConfig override")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/ alone")
    parser.add_argument(
        "--same-budget", action="store_true", help="run BoTorchSampler with every seed and problem (hours)"
    )
    parser.add_argument("--resume", action="store_true", help="reuse the matching searches of OUTPUT/runs.json")
    parser.add_argument("--jobs", type=int, default=1, help="searches at once, each in a 1-thread worker process")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs must be ≥ 1, got {args.jobs}")
    torch.set_num_threads(1)  # 2 shared cores: one thread per process is the fair and stable setting
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failed trials are counted in the tables instead
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    settings = QUICK if args.quick else FULL
    settings = replace(
        settings, seeds=args.seeds or settings.seeds, evaluations=args.evaluations or settings.evaluations
    )
    checkpoints = tuple(k for k in settings.checkpoints if k < settings.evaluations) + (settings.evaluations,)
    output = ROOT / (args.output or ("runs/bench_mobo_quick" if args.quick else "runs/bench_mobo"))
    output.mkdir(parents=True, exist_ok=True)
    config = MoboConfig(n_evaluations=settings.evaluations, n_initial=STARTUP, **parse_overrides(args.mobo))
    keys, skipped = available_samplers(args.samplers)
    started = time.perf_counter()
    load_start = os.getloadavg()[0]

    space = nasbench.load_space(SPACE)
    latency = LatencyTable.load(TABLE)
    evaluator, teacher, surrogates = prepare_evaluator(space, settings, output, args.existing)
    print(f"teacher: {teacher['psnr_db']:.2f} dB vs blurred input {teacher['input_psnr_db']:.2f} dB")
    cache = SharedCache(output / "evaluations.json", evaluator, fingerprint(evaluator, settings))
    print(f"evaluation cache: {cache.loaded} stored results")
    problems = build_problems(space, latency, settings)
    tiny, small = problems["tiny"], problems["enumerable"]

    enum_start = time.perf_counter()
    enumerated = enumerate_front(small, cache)
    every = finite(enumerated)
    enum_s = time.perf_counter() - enum_start
    small_ref = reference_point(every)
    true_hv = hypervolume(every, small_ref)

    jobs = plan_jobs(list(problems), keys, settings, args.same_budget)
    # How many seeds and trials do not enter the stamp: a stored run is reused for a job of its length.
    what = {k: v for k, v in asdict(settings).items() if k not in ("seeds", "evaluations", "checkpoints")}
    store = RunStore(output / "runs.json", {"fingerprint": cache.key, "settings": what, "config": asdict(config)})
    stored = store.load() if args.resume else {}
    reused = {j.key: stored[j.key] for j in jobs if j.key in stored and len(stored[j.key].values) == j.evaluations}
    if reused:  # without --resume the file starts over with the first finished search
        print(f"{store.path}: reusing {len(reused)} of {len(jobs)} searches")
    todo = longest_first([j for j in jobs if j.key not in reused], stored.values())
    run_jobs(todo, min(args.jobs, max(len(todo), 1)), cache, store, problems, config, settings, output)
    runs = [store.runs[j.key] for j in jobs]  # in plan order, whatever order they finished in

    tiny_runs = [r for r in runs if r.problem == "tiny"]
    seen = finite(np.concatenate([minimised(r.values, tiny) for r in tiny_runs]))
    tiny_ref = reference_point(seen)
    best_known = hypervolume(np.concatenate([seen, every]), tiny_ref)
    tiny_summary = summarise(tiny_runs, tiny, tiny_ref, 1.0)
    small_summary = summarise([r for r in runs if r.problem == "enumerable"], small, small_ref, true_hv)
    targets = verdicts(tiny_summary, small_summary, checkpoints, best_known)
    targets += [f"- {LABELS[k]} skipped: {reason}." for k, reason in skipped.items()]
    reduced = [k for k in keys if budget(k, settings, args.same_budget) != budget(k, settings, True)]
    for key in reduced:
        plan = budget(key, settings, args.same_budget)
        targets.append(
            f"- {LABELS[key]} ran {plan.seeds} seed(s) × {plan.evaluations} evaluations on the 11-position problem "
            f"only: at tens of seconds per proposal the full protocol takes hours here (`--same-budget` runs it)."
        )
    cfg = ", ".join(f"{k}={v}" for k, v in asdict(config).items() if k not in ("seed", "max_failures"))
    body = (
        f"Problem: `{SPACE}`, objectives {', '.join(OBJECTIVES)}; latency from `{TABLE.relative_to(ROOT)}` "
        f"({INPUT_SIZE[0]}×{INPUT_SIZE[1]}, 1 thread); quality from the training-free evaluator — a teacher "
        f"fine-tuned {settings.teacher_steps} steps (batch {settings.teacher_batch}, lr {settings.teacher_lr}, "
        f"warm-up {settings.teacher_warmup}) on `builtin_data({', '.join(f'{k}={v!r}' for k, v in settings.data)})`, "
        f"{teacher['psnr_db']:.2f} dB on the two validation crops (blurred input {teacher['input_psnr_db']:.2f} dB), "
        f"and {len(surrogates)} surrogates distilled {settings.distill_steps} steps on "
        f"{100 * settings.distill_fraction:.0f} % of the crops; a stitched network whose PSNR is not finite has "
        f"its substituted blocks' BatchNorm statistics re-estimated on {sum(len(b) for b in evaluator.calibration)} "
        f"training crops (`recalibrate={evaluator.recalibrate!r}`; {evaluator.recalibrated} networks in this run), "
        f"and counts as a failed evaluation only if it is still not finite. Every sampler runs in a plain Optuna study "
        f"(`study.optimize`, {settings.evaluations} trials, trial 0 = the baseline via `enqueue_trial`), "
        f"{settings.seeds} seed(s) (0, 1, …); Optuna's samplers with their defaults (seed only), ours with "
        f"`MoboConfig({cfg})`. One evaluation cache serves every run ({cache.loaded} results reused, "
        f"{cache.evaluated} evaluated in this run in {cache.evaluation_s / 60:.1f} min). Proposal time = trial "
        f"wall time − evaluation time, over trials {STARTUP}–{settings.evaluations - 1} (after the {STARTUP} "
        f"start-up trials of every model-based sampler). Cells: mean ± sd [min–max] over seeds; distinct "
        f"architectures per seed.\n\n"
        f"**11 free positions (4^11 = {4**11:,} architectures).** Reference point (worst value seen by any run "
        f"+ 10 % of the range): PSNR drop {tiny_ref[0]:.3f} dB, latency {tiny_ref[1]:.2f} ms.\n\n"
        + table(rows_for(tiny_summary, checkpoints, percent=False))
        + f"\n\n**{small.dim} free positions ({', '.join(settings.small_free)}; the others `naf`): all "
        f"{len(enumerated)} architectures evaluated** ({enum_s / 60:.1f} min, cached results included); "
        f"{len(enumerated) - len(every)} of them give non-finite PSNR (the stitched network overflows) and count "
        f"as failed evaluations, in the searches too. True front of the other {len(every)}: "
        f"{int(pareto_mask(every).sum())} architectures, HV {true_hv:.2f} dB·ms at the reference point (worst of "
        f"them + 10 % of the range) {small_ref[0]:.3f} dB, {small_ref[1]:.2f} ms.\n\n"
        + table(rows_for(small_summary, checkpoints, percent=True))
        + '\n\n![HV vs evaluations](img/mobo_hv.png)\n\nTargets (issue "MOBO"):\n\n'
        + "\n".join(targets)
        + f"\n\nWall time {(time.perf_counter() - started) / 60:.1f} min, {args.jobs} search(es) at once, 1 thread "
        f"each; the {len(runs)} searches' own wall times sum to {sum(r.wall_s for r in runs) / 60:.1f} min"
        + (
            f", {len(reused)} of them reused from an interrupted run with the same evaluator, settings and config "
            f"(`--resume`: their times are that run's)"
            if reused
            else ""
        )
        + f". 1-minute load average {load_start:.1f} at the start and {os.getloadavg()[0]:.1f} at the end on 2 "
        f"cores (a shared machine: proposal times grow with the load). Teacher, surrogates, evaluation cache and "
        f"searches (runs.json) in `{output.relative_to(ROOT)}`.\n"
    )
    print(body)
    panels = {
        f"{SPACE}, 11 free positions": (tiny_summary, "hypervolume (dB·ms)"),
        f"{SPACE}, {small.dim} free positions: share of the true front": (small_summary, "HV / true HV"),
    }
    if args.quick or args.no_docs:
        plot(panels, output / "mobo_hv.png")
    else:
        plot(panels, IMG / "mobo_hv.png")
        write_section("mobo", "MOBO vs Optuna's samplers (tiny deblurring problem)", body)


if __name__ == "__main__":
    main()
