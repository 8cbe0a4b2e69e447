"""A MOBO worker process for the multi-process tests: a synthetic deterministic evaluator on nafnet_tiny.

Usage: python mobo_worker.py STORAGE N_EVALUATIONS [SLOW]
With SLOW, the worker's SLOW-th evaluation writes ``STORAGE.slow`` and sleeps for a minute, so a test can
kill the worker while that trial is RUNNING. With the environment variable NASBENCH_TEST_WORKERS=K, the worker
waits until K workers of STORAGE have started (a file barrier) and every evaluation takes at least 0.1 s, so
that the workers really overlap however fast one of them starts or proposes.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from nasbench import load_space
from nasbench.latency import LatencyTable
from nasbench.search.mobo import mobo

TABLE = Path(__file__).resolve().parents[2] / "nasbench" / "profiles" / "tables" / "nafnet_tiny_64_t1.yaml"


def synthetic_quality(space):  # noqa: ANN001, ANN201
    """A deterministic quality-drop function: additive per-position costs plus one pairwise interaction."""
    rng = np.random.default_rng(7)
    cost = {p.name: np.concatenate([[0.0], rng.uniform(0.1, 1.0, len(p.labels) - 1)]) for p in space.positions}

    def evaluate(arch) -> dict[str, float]:  # noqa: ANN001
        idx = {n: space.position(n).labels.index(label) for n, label in arch.items()}
        drop = sum(cost[n][i] for n, i in idx.items()) + 0.5 * float(idx["enc1.0"] == idx["dec1.0"] != 0)
        return {"psnr_drop_db": float(drop)}

    return evaluate


def main() -> None:
    storage, n = sys.argv[1], int(sys.argv[2])
    slow = int(sys.argv[3]) if len(sys.argv) > 3 else None
    space = load_space("nafnet_tiny")
    quality = synthetic_quality(space)
    calls = {"n": 0}
    workers = int(os.environ.get("NASBENCH_TEST_WORKERS", "1"))
    Path(f"{storage}.ready.{os.getpid()}").write_text("ready")
    deadline = time.monotonic() + 120
    while len(list(Path(storage).parent.glob(f"{Path(storage).name}.ready.*"))) < workers:
        if time.monotonic() > deadline:
            sys.exit(f"mobo_worker: fewer than {workers} workers started within 120 s")
        time.sleep(0.05)

    def evaluate(arch):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if workers > 1:
            time.sleep(0.1)
        if slow is not None and calls["n"] == slow:
            Path(storage + ".slow").write_text("started")
            time.sleep(60)
        return quality(arch)

    mobo(space, evaluate, LatencyTable.load(TABLE), storage=storage, n_evaluations=n, n_initial=4, progress=False)


if __name__ == "__main__":
    main()
