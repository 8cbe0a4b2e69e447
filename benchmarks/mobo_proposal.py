"""Proposal time and hypervolume of MoboSampler's acquisitions on the 11-position tiny deblurring problem.

    python benchmarks/mobo_proposal.py [--quick] [--seeds 1] [--evaluations 100] [--before PATH/mobo.py]

Uses the machinery of ``benchmarks/mobo.py``: its problem (``nafnet_tiny``, all 11 positions free,
objectives ``psnr_drop_db`` + ``latency_ms``), the teacher and surrogates it trained in ``--output``
(default ``runs/bench_mobo``, ``runs/bench_mobo_quick`` with ``--quick``; run ``benchmarks/mobo.py`` with the
same ``--quick`` once first), a shared evaluation cache (``--output``/proposal_evaluations.json) and
``run_search`` (a plain Optuna study, trial 0 = baseline).

Variants, all shipped: ``auto`` is the installed :class:`MoboSampler` with its default acquisition (``auto``
picks the closed-form staircase EHVI on this problem); ``qlognehvi`` is the same sampler with
``acquisition="qlognehvi"`` (BoTorch's Monte-Carlo qLogNEHVI, the general acquisition). For development,
``--before`` adds the sampler of another ``mobo.py`` (e.g. ``git show HEAD~1:nasbench/search/mobo.py >
/tmp/mobo_before.py``), loaded as a module of its own. Seeds are interleaved (seed 0 of every variant, then
seed 1, …) so every variant sees the same machine load. Prints median / p90 proposal time over trials ≥ 10
and HV after N evaluations (reference: worst of every run's evaluations + 10 % of the range); writes
``--output``/proposal.json and the ``acquisitions`` section of docs/benchmarks.md (not with ``--quick``,
``--before`` or ``--no-docs``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
from dataclasses import asdict, replace
from pathlib import Path
from types import ModuleType

import numpy as np
import optuna
import torch
from mobo import (
    FULL,
    INPUT_SIZE,
    LABELS,
    OBJECTIVES,
    QUICK,
    ROOT,
    SPACE,
    STARTUP,
    TABLE,
    SharedCache,
    fingerprint,
    finite,
    hv_curve,
    minimised,
    prepare_evaluator,
    register_sampler,
    run_search,
    spread,
)
from report import table, write_section

import nasbench
from nasbench.latency import LatencyTable
from nasbench.search.mobo import MoboConfig, MoboSampler, Problem, build_problem, select_acquisition
from nasbench.search.pareto import reference_point


def _load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("mobo_before", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="30 evaluations on mobo.py --quick's evaluator; no docs")
    parser.add_argument("--before", type=Path, default=None, help="a mobo.py whose MoboSampler to compare")
    parser.add_argument("--output", default=None, help="default runs/bench_mobo (runs/bench_mobo_quick with --quick)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--evaluations", type=int, default=None, help="default 100 (30 with --quick)")
    parser.add_argument("--variants", nargs="+", default=["before", "auto", "qlognehvi"])
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)

    @register_sampler("auto", "MoboSampler (installed, acquisition=auto)")
    def _auto(problem: Problem, seed: int, config: MoboConfig) -> optuna.samplers.BaseSampler:
        return MoboSampler(problem, replace(config, seed=seed))

    @register_sampler("qlognehvi", "MoboSampler (installed, qLogNEHVI)")
    def _qlognehvi(problem: Problem, seed: int, config: MoboConfig) -> optuna.samplers.BaseSampler:
        return MoboSampler(problem, replace(config, seed=seed, acquisition="qlognehvi"))

    variants = [v for v in args.variants if v != "before" or args.before is not None]
    if args.before is not None:
        before = _load_module(args.before)

        @register_sampler("before", f"MoboSampler ({args.before})")
        def _before(problem: Problem, seed: int, config: MoboConfig) -> optuna.samplers.BaseSampler:
            # The settings that module's MoboConfig knows, with this run's values.
            known = {k: v for k, v in asdict(config).items() if k in before.MoboConfig.__dataclass_fields__}
            return before.MoboSampler(problem, before.MoboConfig(**{**known, "seed": seed}))

    output = ROOT / (args.output or ("runs/bench_mobo_quick" if args.quick else "runs/bench_mobo"))
    evaluations = args.evaluations or (30 if args.quick else 100)
    space = nasbench.load_space(SPACE)
    latency = LatencyTable.load(TABLE)
    settings = replace(QUICK if args.quick else FULL, evaluations=evaluations, seeds=args.seeds)
    evaluator, _, _ = prepare_evaluator(space, settings, output, existing=True)
    cache = SharedCache(output / "proposal_evaluations.json", evaluator, fingerprint(evaluator, settings))
    problem = build_problem(space, OBJECTIVES, latency, input_size=INPUT_SIZE)
    config = MoboConfig(n_evaluations=evaluations, n_initial=STARTUP)
    loads = [os.getloadavg()[0]]
    runs = []
    for seed in range(args.seeds):
        for key in variants:
            run = run_search(key, "tiny", problem, seed, evaluations, cache, config)
            cache.save()
            runs.append(run)
            loads.append(os.getloadavg()[0])
            times = run.proposal_s[STARTUP - 1 :]
            print(
                f"{LABELS[key]:<40} seed {seed}: median proposal {statistics.median(times):.3f} s, "
                f"wall {run.wall_s:.0f} s",
                flush=True,
            )
    seen = finite(np.concatenate([minimised(r.values, problem) for r in runs]))
    reference = reference_point(seen)
    rows = []
    for key in variants:
        mine = [r for r in runs if r.sampler == key]
        times = [t for r in mine for t in r.proposal_s[STARTUP - 1 :]]
        hv = [float(hv_curve(minimised(r.values, problem), reference)[-1]) for r in mine]
        failed = [int(np.isnan(np.asarray(r.values, dtype=float)).any(1).sum()) for r in mine]
        rows.append(
            {
                "variant": LABELS[key],
                "median_proposal_s": statistics.median(times),
                "p90_proposal_s": float(np.percentile(times, 90)),
                f"hv_at_{evaluations}": hv,
                "failed": failed,
                "wall_s": [r.wall_s for r in mine],
            }
        )
    for row in rows:
        print(json.dumps(row))
    print(f"reference point (drop dB, latency ms): {reference.tolist()}")
    (output / "proposal.json").write_text(
        json.dumps({"reference": reference.tolist(), "rows": rows, "runs": [asdict(r) for r in runs]}) + "\n",
        encoding="utf-8",
    )
    if args.quick or args.no_docs or args.before is not None:
        return
    shown = [
        {
            "variant": row["variant"],
            "median proposal s": f"{row['median_proposal_s']:.3f}",
            "p90 proposal s": f"{row['p90_proposal_s']:.3f}",
            f"HV @{evaluations} (dB·ms)": spread(np.asarray(row[f"hv_at_{evaluations}"]), 1),
            "failed evals": "/".join(str(f) for f in row["failed"]),
            "search wall s": "/".join(f"{w:.0f}" for w in row["wall_s"]),
        }
        for row in rows
    ]
    body = (
        table(shown) + f"\n\nThe 11-position problem of the MOBO section (`{SPACE}`, objectives "
        f"{', '.join(OBJECTIVES)}, the same teacher and surrogates), {evaluations} evaluations per search, "
        f"{args.seeds} seed(s), variants interleaved per seed; `acquisition=auto` selects "
        f"`{select_acquisition(problem)}` here. Proposal time = trial wall time − evaluation time over trials "
        f"{STARTUP}–{evaluations - 1}. HV reference point (worst value of any of these runs + 10 % of the range): "
        f"PSNR drop {reference[0]:.3f} dB, latency {reference[1]:.2f} ms, so HV is comparable within this "
        f"table, not with the MOBO section's. 1 thread; 1-minute load average at the start and after each "
        f"search {', '.join(f'{x:.1f}' for x in loads)} on 2 cores (shared machine; proposal times grow with it).\n"
    )
    print(body)
    write_section("acquisitions", "MoboSampler acquisitions: proposal time", body)


if __name__ == "__main__":
    main()
