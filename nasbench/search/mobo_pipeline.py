"""The saliency-guided, training-free MOBO pipeline ("Towards Efficient Image Deblurring for Edge Deployment").

Stages, each writing its artifact into one output directory so that a re-run with ``resume=True`` skips
what is finished:

1. **teacher** — the space's baseline trained with :func:`~nasbench.train.finetune` (or a given
   checkpoint) → ``teacher.pt`` (weights-only state dict; ``teacher/last.pt`` while training);
2. **saliency** — the six zero-cost metrics on the teacher; the top-k positions are protected (kept at
   their original block) → ``saliency.csv``, ``saliency.png``;
3. **surrogates** — a distilled twin of every alternative at every other position → ``surrogates/``;
4. **search** — :func:`~nasbench.search.mobo.mobo` over (PSNR drop, LUT latency) scored by the
   :class:`~nasbench.search.evaluator.TrainingFreeEvaluator` → ``study.journal`` (an interrupted search
   continues from it), ``history.csv``, ``result.json``, plots;
5. **compare** — the selected (knee) architecture and the baseline fine-tuned with one budget (by default
   from their stitched weights and from the teacher; ``compare.init``), timed together in onnxruntime and
   evaluated on the same images → ``baseline.pt/.onnx``, ``found.pt/.onnx``;
6. **summary** — ``summary.json`` (API.md "Run summaries"), the Pareto front with training-free quality.

``stages.json`` records what each finished stage was run with; resuming with other settings for a
finished teacher, saliency or surrogate stage is refused (their results feed every later stage). See
docs/recipes-deblur.md.
"""

from __future__ import annotations

import inspect
import json
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nasbench.cost import count_macs, count_params
from nasbench.deploy import fold_batchnorm
from nasbench.errors import ModelError, NasbenchError, known, suggest
from nasbench.latency import LatencyTable, Protocol, measure_latencies
from nasbench.search.evaluator import RECALIBRATE, TrainingFreeEvaluator
from nasbench.search.mobo import MoboConfig, mobo
from nasbench.search.pareto import knee_point
from nasbench.search.result import SearchResult
from nasbench.search.saliency import plot_saliency, protect, saliency
from nasbench.search.summary import compare_architectures
from nasbench.search.surrogates import Surrogates, check_teacher, distill_surrogates
from nasbench.space import SearchSpace
from nasbench.train import builtin_data, evaluate, finetune
from nasbench.train.checkpoint import load_checkpoint, save_checkpoint

STAGES_NAME = "stages.json"
TEACHER_NAME = "teacher.pt"
TEACHER_DIR = "teacher"
SURROGATES_DIR = "surrogates"
# What a finished or interrupted run leaves behind; a fresh run refuses an output that holds any of them.
ARTIFACTS = (STAGES_NAME, TEACHER_DIR, TEACHER_NAME, "saliency.csv", SURROGATES_DIR, "study.journal", "summary.json")
FRONT_QUALITY = "training-free: the teacher with the surrogates stitched in, not fine-tuned, on the validation images"

# Keys a run's settings may hold besides the sections below: read by the recipes, recorded in summary.json.
RECIPE_KEYS = ("space", "threads")
DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "data": {"task": "deblur_motion"},
    "teacher": {},
    "saliency": {"protect": 1, "rank_by": "aggregate"},
    "surrogates": {"fraction": 0.25},
    "evaluator": {"recalibrate": "on_failure", "calibration_size": 64},
    "mobo": {},
    "selection": {"min_predicted_speedup": None},
    "compare": {"init": "stitched"},
    "front": {"measure_latency": True},
}
REQUIRED = ("latency_input", "finetune")
# Where the compare stage starts baseline and found: "stitched" (ours) — the baseline from the teacher, the
# found network from its stitched teacher + surrogate weights; "scratch" — both from random initialisation.
COMPARE_INIT = ("stitched", "scratch")
# Arguments the pipeline sets itself, so a section may not.
_OWNED = {"model", "train_data", "val_pairs", "checkpoint_dir", "resume", "progress", "log", "seed"}


def _arguments(fn: Callable[..., Any], owned: set[str]) -> set[str]:
    return {n for n, p in inspect.signature(fn).parameters.items() if p.kind is p.KEYWORD_ONLY and n not in owned}


# Section → the options it accepts (``data`` goes to builtin_data, which passes extras to the degradation).
_ALLOWED: dict[str, set[str] | None] = {
    "data": None,
    "teacher": _arguments(finetune, _OWNED) | {"checkpoint"},
    "saliency": _arguments(saliency, _OWNED) | {"metrics", "protect", "rank_by"},
    "surrogates": _arguments(distill_surrogates, _OWNED | {"positions", "output"}),
    "evaluator": {"recalibrate", "calibration_size"},
    # storage: where the study lives (default output/study.journal); several workers may share one.
    "mobo": _arguments(mobo, _OWNED | {"fixed", "input_size", "config", "output"})
    | ({f.name for f in fields(MoboConfig)} - _OWNED),
    "selection": {"min_predicted_speedup"},
    "compare": {"init"},
    "front": {"measure_latency"},
    "finetune": _arguments(finetune, _OWNED),
}


def resolve_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` with the defaults filled in and every key checked; raises :class:`NasbenchError`
    naming an unknown or missing key (``settings: surrogates.fration: unknown option (known: ...)``)."""
    top = set(_ALLOWED) | set(REQUIRED) | {"latency_input", "seed"} | set(RECIPE_KEYS)
    for key in settings:
        if key not in top:
            raise NasbenchError(f"settings: unknown key {key!r} {known(sorted(top))}{suggest(str(key), top)}")
    for key in REQUIRED:
        if key not in settings:
            raise NasbenchError(f"settings: {key!r} is missing (required: {', '.join(REQUIRED)})")
    for section in _ALLOWED:
        if not isinstance(settings.get(section, {}), Mapping):
            raise NasbenchError(f"settings: {section} must be a mapping of options, got {settings[section]!r}")
    cfg: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        given = settings.get(key, {} if isinstance(default, dict) else default)
        cfg[key] = {**default, **given} if isinstance(default, dict) else given
    for key in settings:
        cfg.setdefault(key, settings[key])
    for section, allowed in _ALLOWED.items():
        for option in cfg[section]:
            if allowed is not None and option not in allowed:
                raise NasbenchError(
                    f"settings: {section}.{option}: unknown option {known(sorted(allowed))}"
                    f"{suggest(str(option), allowed)}"
                )
    if cfg["evaluator"]["recalibrate"] not in RECALIBRATE:
        raise NasbenchError(
            f"settings: evaluator.recalibrate must be one of {', '.join(RECALIBRATE)}, "
            f"got {cfg['evaluator']['recalibrate']!r}"
        )
    if cfg["compare"]["init"] not in COMPARE_INIT:
        raise NasbenchError(
            f"settings: compare.init must be one of {', '.join(COMPARE_INIT)}, got {cfg['compare']['init']!r}"
        )
    if "steps" not in cfg["finetune"]:
        raise NasbenchError("settings: finetune.steps is missing (the budget both networks are trained with)")
    if ("steps" in cfg["teacher"]) == ("checkpoint" in cfg["teacher"]):
        raise NasbenchError("settings: teacher needs exactly one of steps (train it here) or checkpoint (a path)")
    size = cfg["latency_input"]
    if not (isinstance(size, Sequence) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size)):
        raise NasbenchError(f"settings: latency_input must be [H, W] in px, got {size!r}")
    return cfg


def _plain(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples become lists), so stamps compare across runs."""
    return json.loads(json.dumps(value, default=str))


class _Stages:
    """``stages.json``: per finished stage, the settings it ran with (its stamp) and what it produced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.records: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        except json.JSONDecodeError as exc:
            raise NasbenchError(f"{path}: not a stage record ({exc}); remove it to redo every stage") from None

    def cached(self, name: str, stamp: Mapping[str, Any], *, strict: bool) -> dict[str, Any] | None:
        """The result of finished stage ``name`` if it ran with ``stamp``; else None — or, with ``strict``
        (later stages were built on it), an error naming the first setting that differs."""
        record = self.records.get(name)
        if record is None:
            return None
        stamp = _plain(stamp)
        if record["stamp"] == stamp:
            return record["result"]
        if not strict:
            return None
        key = next(k for k in sorted(set(stamp) | set(record["stamp"])) if record["stamp"].get(k) != stamp.get(k))
        raise NasbenchError(
            f"{self.path}: stage {name!r} finished with {key}={record['stamp'].get(key)!r}, but this run has "
            f"{key}={stamp.get(key)!r}; later stages were built on it — keep the settings to resume, or use "
            "another output directory"
        )

    def record(self, name: str, stamp: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
        self.records[name] = {"stamp": _plain(stamp), "result": _plain(result)}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.records, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.path)
        return self.records[name]["result"]


# ---------------------------------------------------------------------- stages
def load_teacher(space: SearchSpace, path: str | Path) -> nn.Module:
    """The baseline network of ``space`` (eval mode) with the weights in ``path``: a weights-only state
    dict, or a :func:`~nasbench.train.finetune` checkpoint (``last.pt``, whose ``model`` entry is used).
    Raises :class:`~nasbench.errors.ModelError` naming the file when the weights do not fit."""
    state = load_checkpoint(path)
    if isinstance(state.get("model"), Mapping):
        state = dict(state["model"])
    with torch.random.fork_rng(devices=[]):  # every weight is overwritten: leave the global RNG be
        model = space.build(space.baseline())
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        line = str(exc).strip().splitlines()[0]
        raise ModelError(f"{path}: not the weights of space {space.name!r}'s baseline network: {line}") from None
    check_teacher(space, model)
    return model.eval()


def _teacher(
    space: SearchSpace, cfg: dict[str, Any], data: tuple[Any, Any], out: Path, stages: _Stages, progress: bool
) -> tuple[nn.Module, dict[str, Any]]:
    train, val = data
    options = dict(cfg["teacher"])
    stamp = {"space": space.to_dict(), "data": cfg["data"], "teacher": options, "seed": cfg["seed"]}
    done = stages.cached("teacher", stamp, strict=True)
    if done is not None and (out / TEACHER_NAME).is_file():
        return load_teacher(space, out / TEACHER_NAME), done
    start = time.perf_counter()
    if "checkpoint" in options:
        model = load_teacher(space, options["checkpoint"])
        source = f"checkpoint {options['checkpoint']}"
    else:
        torch.manual_seed(cfg["seed"])
        model = space.build(space.baseline())
        # resume=True continues teacher/last.pt when an earlier run was interrupted, else starts afresh;
        # a fresh pipeline run has already refused an output holding one.
        finetune(
            model,
            train,
            None,
            seed=cfg["seed"],
            checkpoint_dir=out / TEACHER_DIR,
            resume=True,
            progress=progress,
            **options,
        )
        source = f"trained here: {options['steps']} steps"
    model.eval()
    save_checkpoint(out / TEACHER_NAME, model.state_dict())
    metrics = evaluate(model, val)
    result = {"source": source, **metrics, "seconds": round(time.perf_counter() - start, 1)}
    return model, stages.record("teacher", stamp, result)


def _saliency(
    teacher: nn.Module, cfg: dict[str, Any], train: Any, out: Path, stages: _Stages, progress: bool
) -> dict[str, Any]:
    stamp = {"saliency": cfg["saliency"]}
    done = stages.cached("saliency", stamp, strict=True)
    if done is not None and (out / "saliency.csv").is_file():
        return done
    start = time.perf_counter()
    options = dict(cfg["saliency"])
    k, rank_by = options.pop("protect"), options.pop("rank_by")
    scores = saliency(teacher, train, seed=cfg["seed"], progress=progress, **options)
    protected = protect(scores, k, metric=rank_by)
    scores.to_csv(out / "saliency.csv")
    plot_saliency(scores, out / "saliency.png", protected=protected)
    result = {
        "protected": protected,
        "order": [str(p) for p in scores["aggregate"].sort_values(kind="stable").index],
        "seconds": round(time.perf_counter() - start, 1),
    }
    return stages.record("saliency", stamp, result)


def _surrogates(
    space: SearchSpace,
    teacher: nn.Module,
    protected: Sequence[str],
    cfg: dict[str, Any],
    train: Any,
    out: Path,
    stages: _Stages,
    progress: bool,
) -> tuple[Surrogates, dict[str, Any]]:
    positions = [p.name for p in space.searchable_positions if p.name not in protected]
    if not positions:
        raise NasbenchError(
            f"saliency.protect: every searchable position of space {space.name!r} is protected "
            f"({', '.join(protected)}); nothing is left to search — protect fewer"
        )
    options = dict(cfg["surrogates"])
    stamp = {"surrogates": options, "positions": positions}
    folder = out / SURROGATES_DIR
    done = stages.cached("surrogates", stamp, strict=True)
    if done is not None and (folder / "surrogates.json").is_file():
        return Surrogates.load(folder, space), done
    start = time.perf_counter()
    surrogates = distill_surrogates(
        space,
        teacher,
        train,
        positions=positions,
        output=folder,
        resume=True,
        seed=cfg["seed"],
        progress=progress,
        **options,
    )
    surrogates.save(folder)
    errors = surrogates.errors()
    worse = errors[errors["relative_error"] > errors["identity_relative_error"]]
    result = {
        "positions": positions,
        "count": len(surrogates),
        "worse_than_identity": [f"{r.position}/{r.label}" for r in worse.itertuples()],
        "seconds": round(time.perf_counter() - start, 1),
    }
    return surrogates, stages.record("surrogates", stamp, result)


def select_architecture(
    result: SearchResult,
    table: LatencyTable,
    input_size: Sequence[int] | None = None,
    *,
    min_predicted_speedup: float | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Pareto-front row of a MOBO ``result`` to fine-tune, and how it was chosen.

    Without ``min_predicted_speedup`` it is the search's knee (``result.architecture``). With it, the
    knee is taken among the front points whose LUT-predicted speed-up over the baseline
    (predicted baseline ms / predicted ms) is at least that value; when no front point reaches it, the
    front point with the largest predicted speed-up is taken and a ``RuntimeWarning`` says so.
    """
    front = result.pareto_front or []
    knee = next((r for r in front if r["architecture"] == str(result.architecture)), None)
    if knee is None:
        raise NasbenchError(f"select_architecture: the knee {result.architecture} is not on the result's Pareto front")
    space = result.space
    objectives = list(result.settings.get("objectives", []))
    base_ms = table.predict(space, space.baseline(), input_size)
    if min_predicted_speedup is None:
        info = {"rule": "knee of the Pareto front"}
        chosen = knee
    else:
        if "latency_ms" not in objectives:
            raise NasbenchError(
                f"selection.min_predicted_speedup needs the latency_ms objective; the search had {objectives}"
            )
        eligible = [r for r in front if base_ms / r["latency_ms"] >= min_predicted_speedup]
        if eligible:
            signs = [1.0 if d == "minimize" else -1.0 for d in result.settings["directions"]]
            values = [[s * r[name] for s, name in zip(signs, objectives)] for r in eligible]
            chosen = eligible[knee_point(values)]
            info = {"rule": f"knee of the front points with predicted speed-up ≥ {min_predicted_speedup}"}
        else:
            chosen = max(front, key=lambda r: base_ms / r["latency_ms"])
            info = {"rule": f"no front point is predicted ≥ {min_predicted_speedup}× faster; the fastest front point"}
            warnings.warn(
                f"select_architecture: no Pareto-front point is predicted ≥ {min_predicted_speedup}× faster than the "
                f"baseline (best: {base_ms / chosen['latency_ms']:.2f}×); taking the fastest front point",
                RuntimeWarning,
                stacklevel=2,
            )
    if "latency_ms" in chosen:
        info["predicted_speedup"] = base_ms / chosen["latency_ms"]
    info.update(trial=chosen["trial"], knee_trial=knee["trial"], min_predicted_speedup=min_predicted_speedup)
    return chosen, info


def front_entries(
    space: SearchSpace,
    table: LatencyTable,
    front: Sequence[Mapping[str, Any]],
    input_size: Sequence[int] | None = None,
    *,
    measure_latency: bool = True,
) -> list[dict[str, Any]]:
    """API.md ``M`` dicts for Pareto-front rows of a MOBO search with the training-free evaluator.

    ``params``, ``macs`` (of the BatchNorm-folded network) and ``predicted_latency_ms`` are exact;
    ``psnr_db``, ``ssim`` and ``psnr_drop_db`` are the rows' training-free values; ``latency_ms`` is
    measured end to end in onnxruntime with the table's protocol, every front network timed together
    (interleaved) — latency does not depend on the weights, so untrained networks are timed — or ``None``
    without ``measure_latency``. ``trial`` is the row's trial number.
    """
    h, w = table.resolve_size(input_size)
    shape = (1, space.backbone_config.in_channels, h, w)
    models: dict[str, nn.Module] = {}
    entries = []
    for row in front:
        arch = space.architecture(row["architecture"])
        with torch.random.fork_rng(devices=[]):
            model = fold_batchnorm(space.build(arch)).eval()
        models[str(arch)] = model
        entries.append(
            {
                "architecture": str(arch),
                "params": count_params(model),
                "macs": count_macs(model, shape),
                "latency_ms": None,
                "predicted_latency_ms": table.predict(space, arch, (h, w)),
                "psnr_db": row["psnr_db"],
                "ssim": row["ssim"],
                "psnr_drop_db": row["psnr_drop_db"],
                "trial": row["trial"],
            }
        )
    if measure_latency and models:
        protocol = Protocol(**table.metadata.get("protocol", {}))
        for name, measurement in measure_latencies(models, shape, protocol).items():
            next(e for e in entries if e["architecture"] == name)["latency_ms"] = measurement.median_ms
    return entries


def _check_fresh(out: Path, resume: bool) -> None:
    found = [name for name in ARTIFACTS if (out / name).exists()]
    if found and not resume:
        raise NasbenchError(
            f"{out}: holds an earlier run ({', '.join(found)}); pass resume=True (--resume) to continue it, "
            "or choose another output directory"
        )


# ---------------------------------------------------------------------- the pipeline
def mobo_pipeline(
    space: SearchSpace,
    table: LatencyTable,
    settings: Mapping[str, Any],
    output: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    started: float | None = None,
    extra_settings: Mapping[str, Any] | None = None,
) -> SearchResult:
    """Teacher → saliency → surrogates → training-free MOBO → baseline and found trained with one budget.

    ``settings`` (:func:`resolve_settings` fills defaults and checks keys):

    - ``latency_input`` [H, W] — the size latency is predicted and measured at; ``seed`` (0);
    - ``data`` — :func:`~nasbench.train.builtin_data` options (``task`` defaults to ``deblur_motion``);
    - ``teacher`` — ``steps`` and :func:`~nasbench.train.finetune` options, or ``checkpoint``: a path;
    - ``saliency`` — ``protect`` (k = 1), ``rank_by`` (``aggregate``) and :func:`saliency` options;
    - ``surrogates`` — :func:`distill_surrogates` options (``fraction`` 0.25);
    - ``evaluator`` — :class:`TrainingFreeEvaluator` options ``recalibrate`` (``on_failure``) and
      ``calibration_size`` (64 training crops re-estimate the BatchNorm statistics of a failing network);
    - ``mobo`` — :func:`~nasbench.search.mobo.mobo` options (objectives, constraints, reference_point,
      storage, study_name) and :class:`MoboConfig` fields (n_evaluations, n_initial, …);
    - ``selection`` — ``min_predicted_speedup`` (None: the knee; see :func:`select_architecture`);
    - ``compare`` — ``init``: ``stitched`` (default: the found network starts from its stitched teacher +
      surrogate weights, the baseline from the teacher) or ``scratch`` (both from random initialisation);
    - ``finetune`` — ``steps`` and finetune options: the budget of both baseline and found;
    - ``front`` — ``measure_latency`` (True) for the Pareto-front entries (:func:`front_entries`);
    - ``space``, ``threads`` — read by the recipe, recorded only.

    Everything lands in ``output`` (module docstring). ``resume=True`` continues an interrupted or
    finished run there, skipping finished stages; without it an output holding a run is refused.
    ``started`` (a ``time.perf_counter()`` value) lets the wall time include work done before the call.
    Returns the search result with ``summary`` (also ``output/summary.json``).
    """
    start = started if started is not None else time.perf_counter()
    cfg = resolve_settings(settings)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    _check_fresh(out, resume)
    stages = _Stages(out / STAGES_NAME)
    size = list(cfg["latency_input"])
    table.save(out / "latency_table.yaml")
    train, val = builtin_data(**cfg["data"])

    teacher, teacher_info = _teacher(space, cfg, (train, val), out, stages, progress)
    protected = _saliency(teacher, cfg, train, out, stages, progress)["protected"]
    surrogates, surrogate_info = _surrogates(space, teacher, protected, cfg, train, out, stages, progress)

    search_start = time.perf_counter()
    evaluator = TrainingFreeEvaluator(space, teacher, surrogates, val, calibration=train, **cfg["evaluator"])
    result = mobo(
        space,
        evaluator,
        table,
        fixed=protected,
        input_size=size,
        output=out,
        progress=progress,
        **{"seed": cfg["seed"], **cfg["mobo"]},
    )
    search_seconds = round(time.perf_counter() - search_start, 1)
    row, selection = select_architecture(result, table, size, **cfg["selection"])
    found = space.architecture(row["architecture"])
    result.architecture = found

    finetune_options = dict(cfg["finetune"])
    init_rule = cfg["compare"]["init"]
    compare_stamp = {
        "finetune": finetune_options,
        "found": str(found),
        "latency_input": size,
        "seed": cfg["seed"],
        "init": init_rule,
    }
    compared = stages.cached("compare", compare_stamp, strict=False)
    if compared is None or not all((out / f"{n}.onnx").is_file() for n in ("baseline", "found")):
        compare_start = time.perf_counter()
        summary = compare_architectures(
            space,
            {"baseline": space.baseline(), "found": found},
            train,
            val,
            table,
            finetune_steps=finetune_options["steps"],
            input_size=size,
            seed=cfg["seed"],
            progress=progress,
            output=out,
            init=(
                {"baseline": teacher.state_dict(), "found": surrogates.stitch(teacher, found).state_dict()}
                if init_rule == "stitched"
                else None
            ),
            **{k: v for k, v in finetune_options.items() if k != "steps"},
        )
        compared = stages.record(
            "compare", compare_stamp, {**summary, "seconds": round(time.perf_counter() - compare_start, 1)}
        )

    measure = bool(cfg["front"]["measure_latency"])
    front_stamp = {"front": [r["architecture"] for r in result.pareto_front or []], "measure": measure, "size": size}
    front = stages.cached("front", front_stamp, strict=False)
    if front is None:
        front_start = time.perf_counter()
        entries = front_entries(space, table, result.pareto_front or [], size, measure_latency=measure)
        front = stages.record(
            "front", front_stamp, {"entries": entries, "seconds": round(time.perf_counter() - front_start, 1)}
        )

    wall = round(time.perf_counter() - start, 1)
    result.summary = {
        "baseline": compared["baseline"],
        "found": compared["found"],
        "pareto_front": front["entries"],
        "settings": {
            **(extra_settings or {}),
            **cfg,
            "teacher_metrics": {k: teacher_info[k] for k in ("source", "psnr_db", "ssim", "input_psnr_db")},
            "protected": protected,
            "surrogate_positions": surrogate_info["positions"],
            "surrogates_worse_than_identity": surrogate_info["worse_than_identity"],
            "evaluations": len(result.history),
            "evaluations_this_run": evaluator.misses,
            "selected": selection,
            "found_training_free": {k: row[k] for k in ("psnr_db", "ssim", "psnr_drop_db")},
            "pareto_front_quality": FRONT_QUALITY,
            "pareto_front_latency": (
                "measured end to end in onnxruntime (table protocol), the front networks timed together, apart "
                "from baseline and found"
                if measure
                else "not measured (null); predicted_latency_ms is the LUT prediction"
            ),
            "stage_seconds": {
                "teacher": teacher_info["seconds"],
                "saliency": stages.records["saliency"]["result"]["seconds"],
                "surrogates": surrogate_info["seconds"],
                "search_this_run": search_seconds,
                "compare": compared["seconds"],
                "front": front["seconds"],
            },
            "wall_time_s": wall,
        },
    }
    result.save(out)
    return result


__all__ = [
    "COMPARE_INIT",
    "DEFAULTS",
    "front_entries",
    "load_teacher",
    "mobo_pipeline",
    "resolve_settings",
    "select_architecture",
]
