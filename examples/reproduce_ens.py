"""Reproduce ENS ("Edge-Efficient Image Restoration: Transformer Distillation into State-Space Models"): a Restormer
whose transformer blocks may each become a selective state-space (``ssm``) block.

    python examples/reproduce_ens.py --scale tiny --output runs/ens_tiny     # restormer_tiny; see docs/ens.md for times
    python examples/reproduce_ens.py --scale paper --output runs/ens_paper   # Restormer, 44 blocks, days (not run here)

Pipeline (nasbench.search.mobo_pipeline): the Restormer baseline trained on motion-blurred built-in photos (the
teacher) → an ``ssm`` twin of every transformer block, distilled from that block's own input and output (one teacher
pass per batch feeds all twins) → training-free multi-objective BO, once per objective pair in ``searches``: ENS's
(PSNR drop, number of transformer blocks) and ours (PSNR drop, LUT latency) → per search, the knee hybrid and the
baseline trained with one budget, exported, timed together in onnxruntime, evaluated on the same photos.

The first search runs every stage in OUTPUT/<name>/; later searches start from its teacher, saliency and surrogates
(copied, then resumed) and run only their own search and comparison. OUTPUT/summary.json is the first search's summary
(API.md "Run summaries") with every search under ``settings.searches``. Settings live in examples/ens.yaml;
``--set mobo.n_evaluations=40`` overrides one; ``--resume`` continues an interrupted run, skipping finished stages.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

import nasbench
from nasbench.config import apply_overrides, set_value
from nasbench.errors import NasbenchError
from nasbench.latency import Protocol, latency_table  # the shipped table when it matches, else profiled
from nasbench.search.mobo import build_problem
from nasbench.search.mobo_pipeline import (
    ARTIFACTS,
    STAGES_NAME,
    SURROGATES_DIR,
    TEACHER_NAME,
    mobo_pipeline,
    resolve_settings,
)
from nasbench.search.objectives import additive_table, parse_objective
from nasbench.search.result import SearchResult
from nasbench.search.summary import format_summary
from nasbench.space import SearchSpace

HERE = Path(__file__).resolve().parent
SUMMARY_NAME = "summary.json"
#: The block ENS counts (and penalises): the transformer block.
TRANSFORMER = "restormer"
# Stages (stages.json records) and files a later search takes over from the first one: all it needs to resume
# straight into its own search.
SHARED_STAGES = ("teacher", "saliency", "surrogates")
SHARED_FILES = (TEACHER_NAME, "saliency.csv", "saliency.png", SURROGATES_DIR)


def settings(scale: str, overrides: list[str], teacher: Path | None) -> dict[str, Any]:
    """The ``scale`` section of examples/ens.yaml with ``--set`` overrides and ``--teacher`` applied."""
    config = apply_overrides(yaml.safe_load((HERE / "ens.yaml").read_text(encoding="utf-8"))[scale], overrides)
    if teacher is not None:
        config["teacher"] = {"checkpoint": str(teacher)}
    return config


def split_searches(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(the pipeline settings, search name → objective names) from a recipe config; raises
    :class:`NasbenchError` for a missing or malformed ``searches``."""
    cfg = dict(config)
    searches = cfg.pop("searches", None)
    if not isinstance(searches, Mapping) or not searches:
        raise NasbenchError(
            "settings: searches must map a search name to its objectives, e.g. {ens: [psnr_drop_db, count:restormer]}"
        )
    out: dict[str, list[str]] = {}
    for name, objectives in searches.items():
        if not (isinstance(name, str) and name.isidentifier()):
            raise NasbenchError(f"settings: searches: {name!r} is not a valid search name (letters, digits, _)")
        if not (isinstance(objectives, list) and all(isinstance(o, str) for o in objectives)):
            raise NasbenchError(f"settings: searches.{name}: expected a list of objective names, got {objectives!r}")
        out[name] = list(objectives)
    if "objectives" in cfg.get("mobo", {}):
        raise NasbenchError("settings: mobo.objectives: set the objectives per search under searches")
    return cfg, out


def search_settings(space: SearchSpace, cfg: Mapping[str, Any], name: str, objectives: list[str]) -> dict[str, Any]:
    """The pipeline settings of search ``name``, checked (:func:`resolve_settings`): ``cfg`` with its objectives,
    and, when the searches share a ``mobo.storage``, a study name of their own."""
    out = set_value(cfg, "mobo.objectives", objectives)
    if "storage" in out["mobo"]:
        out = set_value(out, "mobo.study_name", f"{out['mobo'].get('study_name', f'mobo-{space.name}')}-{name}")
    resolve_settings(out)
    return out


def check_fresh(output: Path, names: list[str]) -> None:
    """Refuse, before any work, an output that holds an earlier run of any of the searches."""
    for folder in [output / name for name in names]:
        found = [name for name in ARTIFACTS if (folder / name).exists()]
        if found:
            raise NasbenchError(
                f"{folder}: holds an earlier run ({', '.join(found)}); pass --resume to continue it, "
                "or choose another output directory"
            )


def share_upstream(source: Path, target: Path) -> None:
    """Seed ``target`` with the finished teacher, saliency and surrogate stages of the run in ``source``, so
    that :func:`mobo_pipeline` with ``resume=True`` there goes straight to the search. ``stages.json`` is
    written last: a seeding cut short is redone."""
    records = json.loads((source / STAGES_NAME).read_text(encoding="utf-8"))
    missing = [stage for stage in SHARED_STAGES if stage not in records]
    if missing:
        raise NasbenchError(f"{source / STAGES_NAME}: stages {', '.join(missing)} did not finish; nothing to share")
    target.mkdir(parents=True, exist_ok=True)
    for name in SHARED_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, dirs_exist_ok=True)
        elif (source / name).is_file():
            shutil.copy2(source / name, target / name)
    shared = {stage: records[stage] for stage in SHARED_STAGES}
    (target / STAGES_NAME).write_text(json.dumps(shared, indent=2) + "\n", encoding="utf-8")


def transformer_blocks(space: SearchSpace, architecture: str) -> int:
    """How many positions of ``architecture`` use the transformer block."""
    count = additive_table(parse_objective(f"count:{TRANSFORMER}"), space)
    return round(count.value(space.architecture(architecture)))


def search_record(space: SearchSpace, name: str, objectives: list[str], result: SearchResult) -> dict[str, Any]:
    """What OUTPUT/summary.json says about one search."""
    summary = result.summary
    run = summary["settings"]
    base, found = summary["baseline"], summary["found"]
    return {
        "objectives": objectives,
        "summary": f"{name}/{SUMMARY_NAME}",
        "found": found,
        "found_training_free": run["found_training_free"],
        "transformer_blocks": {
            "baseline": transformer_blocks(space, base["architecture"]),
            "found": transformer_blocks(space, found["architecture"]),
        },
        "measured_speedup": base["latency_ms"] / found["latency_ms"],
        "trained_psnr_drop_db": base["psnr_db"] - found["psnr_db"],
        "selected": run["selected"],
        "evaluations": run["evaluations"],
        "pareto_front_size": len(summary["pareto_front"]),
        "wall_time_s": run["wall_time_s"],
    }


def run(
    space: SearchSpace,
    config: Mapping[str, Any],
    output: Path,
    *,
    scale: str,
    resume: bool = False,
    progress: bool = True,
    started: float | None = None,
) -> dict[str, Any]:
    """Every search of ``config`` (a recipe config: pipeline settings plus ``searches``) into ``output``;
    returns the top-level summary, also written to ``output/summary.json``."""
    start = started if started is not None else time.perf_counter()
    cfg, searches = split_searches(config)
    names = list(searches)
    if not resume:
        check_fresh(output, names)
    # Bad keys, objectives or constraints fail here, before the teacher is trained.
    per_search = {name: search_settings(space, cfg, name, objectives) for name, objectives in searches.items()}
    size = resolve_settings(per_search[names[0]])["latency_input"]
    output.mkdir(parents=True, exist_ok=True)
    table = latency_table(space, list(size), Protocol(threads=1), work_dir=output / "profile")
    for name, objectives in searches.items():
        constraints = per_search[name]["mobo"].get("constraints")
        build_problem(space, objectives, table, constraints=constraints, input_size=size)
    results: dict[str, SearchResult] = {}
    for name in searches:
        folder, first = output / name, names[0]
        seeded = name != first and not (folder / STAGES_NAME).exists()
        if seeded:
            share_upstream(output / first, folder)
        extra = {"scale": scale, "search": name, "shared_stages_from": None if name == first else first}
        results[name] = mobo_pipeline(
            space,
            table,
            per_search[name],
            folder,
            resume=resume or seeded,
            progress=progress,
            started=start if name == first else None,
            extra_settings=extra,
        )
    primary = results[names[0]].summary
    summary = {
        "baseline": primary["baseline"],
        "found": primary["found"],
        "pareto_front": primary["pareto_front"],
        "settings": {
            **primary["settings"],
            "searches": {name: search_record(space, name, searches[name], r) for name, r in results.items()},
            "primary_search": names[0],
            "wall_time_s": round(time.perf_counter() - start, 1),
        },
    }
    (output / SUMMARY_NAME).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def report(summary: Mapping[str, Any], output: Path) -> str:
    """The lines printed at the end of a run."""
    lines = []
    for name, record in summary["settings"]["searches"].items():
        sub = json.loads((output / record["summary"]).read_text(encoding="utf-8"))
        blocks = record["transformer_blocks"]
        lines += [
            f"== {name}: objectives {', '.join(record['objectives'])}; {record['evaluations']} evaluations; "
            f"{record['selected']['rule']}",
            format_summary(sub),
            f"transformer blocks {blocks['baseline']} → {blocks['found']}; "
            f"stage seconds {json.dumps(sub['settings']['stage_seconds'])}",
        ]
    lines.append(f"wall time {summary['settings']['wall_time_s']} s; written to {output}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["tiny", "paper"], default="tiny")
    parser.add_argument("--output", type=Path, default=Path("runs/ens"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--teacher", type=Path, help="weights of a trained baseline network (skips training it)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run, skipping finished stages")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        cfg = settings(args.scale, args.set, args.teacher)
        if "threads" in cfg:
            torch.set_num_threads(cfg["threads"])
        space = nasbench.load_space(cfg["space"])
        summary = run(
            space, cfg, args.output, scale=args.scale, resume=args.resume, progress=not args.no_progress, started=start
        )
    except NasbenchError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(summary, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
