"""Profiling cost and end-to-end recipe wall times (figure 5).

    python benchmarks/wall_times.py [--quick] [--profile SPACE:SIZE ...] [--runs DIR ...]

1. Profiling cost: ``LatencyTable.profile`` of each SPACE:SIZE (default nafnet_tiny:64, restormer_tiny:64,
   lite_denoise:256) from a cold (empty, temporary) work dir —
   every block signature and the skeleton exported to ONNX and timed with the default Protocol (1 thread) —
   with the number of entries, wall seconds and seconds per entry. The big spaces (nafnet_sidd, restormer)
   take minutes; profile them with ``--profile nafnet_sidd:256`` when the machine is free.
   ``--quick`` profiles nafnet_tiny at 64² with 2 rounds instead of 5 and prints only.
2. Recipe wall times: every ``summary.json`` (two levels down) in the folders the benchmark scripts' recipe
   runs write (``RECIPE_RUNS``; ``--runs`` adds others, e.g. ``--runs runs`` for everything), with the
   recipe's recorded ``settings.wall_time_s`` (profiling included when the recipe profiled), its budget and,
   for the MOBO pipeline, its ``stage_seconds``. Nothing is re-run: recipes take 8–30 min here; this collects
   what earlier runs recorded and names the folder each number comes from. run_all.py runs this last.

The 1-minute load average before and after each profile is printed with it: the machine is shared and a
loaded machine inflates both figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from report import ROOT, table, write_section

import nasbench
from nasbench.latency import LatencyTable, Protocol

DEFAULT_PROFILES = ("nafnet_tiny:64", "restormer_tiny:64", "lite_denoise:256")
# Where the benchmark scripts' recipe runs land (their default --output), relative to the repository.
RECIPE_RUNS = (
    "runs/bench_ern_net",  # ern_net.py: the ERN-Net DARTS recipe, --scale tiny
    "runs/bench_lite_denoise",  # lite_denoise.py: the LiteDenoiseNet distillation recipe
    "runs/ens_tiny",  # ens.py: the ENS recipe (two MOBO searches)
    "runs/bench_payoff",  # payoff_plot.py: the deblurring MOBO recipe, smaller budget
    "runs/bench_payoff_darts",  # payoff_plot.py: nasbench quickstart (DARTS), smaller budget
)


def profile_cost(spec: str, protocol: Protocol) -> dict[str, Any]:
    """Time one ``LatencyTable.profile`` of ``space:size`` from an empty work dir."""
    name, _, side = spec.partition(":")
    space = nasbench.load_space(name)
    size = int(side or 64)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="nasbench-profile-") as work:
        start = time.perf_counter()
        built = LatencyTable.profile(space, (size, size), protocol, work_dir=work, progress=False)
        seconds = time.perf_counter() - start
    entries = len(built.blocks) + len(built.skeletons)
    return {
        "space": name,
        "size": f"{size}²",
        "entries (blocks + skeleton)": f"{len(built.blocks)} + {len(built.skeletons)}",
        "wall s": f"{seconds:.1f}",
        "s per entry": f"{seconds / entries:.2f}",
        "load avg before / after": f"{load_before:.1f} / {os.getloadavg()[0]:.1f}",
    }


def recipe_runs(folders: list[Path]) -> list[dict[str, Any]]:
    """One row per summary.json that records a wall time."""
    rows = []
    for summary_path in sorted({p for folder in folders for p in _summaries(folder)}):
        summary = json.loads(summary_path.read_text())
        settings = summary.get("settings", {})
        if "wall_time_s" not in settings:
            continue
        meta_path = summary_path.with_name("result.json")
        engine = json.loads(meta_path.read_text()).get("engine", "?") if meta_path.is_file() else "?"
        stages = settings.get("stage_seconds", {})
        rows.append({
            "run folder": os.path.relpath(summary_path.parent, ROOT),
            "engine": engine,
            "space": settings.get("space", summary.get("space", "?")),
            "scale": settings.get("scale", "—"),
            "budget": _budget(settings),
            "wall time": f"{settings['wall_time_s'] / 60:.1f} min",
            "stages (s)": ", ".join(f"{k} {v}" for k, v in stages.items()) or "not recorded",
        })
    return rows


BUDGET = (("teacher", "steps", "teacher {} steps"), ("darts", "steps", "DARTS {} steps"),
          ("mobo", "n_evaluations", "MOBO {} evaluations"), ("finetune", "steps", "fine-tune {} steps"))


def _budget(settings: dict[str, Any]) -> str:
    """The recorded step/evaluation counts that set a recipe's cost."""
    parts = [text.format(settings[stage][key]) for stage, key, text in BUDGET if key in settings.get(stage, {})]
    return ", ".join(parts) or "?"


def _summaries(folder: Path) -> list[Path]:
    return [*folder.glob("summary.json"), *folder.glob("*/summary.json"), *folder.glob("*/*/summary.json")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="nafnet_tiny at 64², 2 rounds; writes no docs")
    parser.add_argument("--profile", nargs="*", default=None, metavar="SPACE:SIZE")
    parser.add_argument("--runs", nargs="*", type=Path, default=[], help="more folders to collect from")
    args = parser.parse_args()
    specs = args.profile if args.profile is not None else (["nafnet_tiny:64"] if args.quick else DEFAULT_PROFILES)
    protocol = Protocol(rounds=2) if args.quick else Protocol()
    profiles = []
    for spec in specs:
        profiles.append(profile_cost(spec, protocol))
        print(profiles[-1], flush=True)
    runs = recipe_runs([ROOT / p for p in (*RECIPE_RUNS, *args.runs)])
    which = "the default Protocol but 2 rounds" if args.quick else "the default Protocol"
    body = f"""
**Profiling cost** — `LatencyTable.profile` from an empty work dir, {protocol.rounds} rounds × {protocol.runs} runs
after {protocol.warmup} warm-up runs per entry, {protocol.threads} thread ({which}):

{table(profiles) if profiles else "(no space profiled)"}

The big spaces are not profiled here by default; the `latency-nafnet_sidd-256-t1` section has the
build time of nafnet_sidd at 256² (`benchmarks/latency_tables.py`).

**Recipe wall times** — recorded by the recipes themselves (`settings.wall_time_s` in each summary.json,
from the start of the recipe, profiling included when it profiled; `stage_seconds` where the pipeline
records them). Not re-run here; folders: the recipe runs of the benchmark scripts that exist
({", ".join(f"`{r}`" for r in RECIPE_RUNS)}){" and " + ", ".join(f"`{r}`" for r in args.runs) if args.runs else ""}.

{table(runs) if runs else "(no summary.json with a wall time under the folders searched)"}
"""
    print(body)
    if not args.quick:
        write_section("wall-times", "Profiling cost and recipe wall times", body)


if __name__ == "__main__":
    main()
