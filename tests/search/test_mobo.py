"""MOBO: proposals, storage-backed resume, budgets, failures, and two real worker processes on one study."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from nasbench import NasbenchError, load_space
from nasbench.latency import LatencyTable
from nasbench.search import SearchResult
from nasbench.search.mobo import MoboConfig, MoboSampler, build_problem, mobo
from nasbench.search.pareto import pareto_mask

sys.path.insert(0, str(Path(__file__).parent))
from mobo_worker import TABLE, synthetic_quality  # noqa: E402

WORKER = Path(__file__).with_name("mobo_worker.py")


@pytest.fixture(scope="module")
def space():
    return load_space("nafnet_tiny")


@pytest.fixture(scope="module")
def table():
    return LatencyTable.load(TABLE)


@pytest.fixture(scope="module")
def searched(space, table, tmp_path_factory):
    out = tmp_path_factory.mktemp("mobo")
    result = mobo(space, synthetic_quality(space), table, n_evaluations=14, n_initial=6, output=out, progress=False)
    return result, out


def _complete(storage: str, name: str = "mobo-nafnet_tiny") -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(
        study_name=name, storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(storage))
    )
    return study.get_trials(states=(TrialState.COMPLETE,))


def test_search_starts_at_the_baseline_then_sobol_then_model(searched, space) -> None:
    result, _ = searched
    phases = [r["phase"] for r in result.history]
    assert phases[0] == "baseline" and result.history[0]["architecture"] == str(space.baseline())
    assert phases[1:6] == ["initial"] * 5 and set(phases[6:]) == {"model"}
    archs = [r["architecture"] for r in result.history]
    assert len(set(archs)) == len(archs)  # never evaluates an architecture twice


def test_front_is_non_dominated_and_knee_is_on_it(searched) -> None:
    result, _ = searched
    values = np.array([[r["psnr_drop_db"], r["latency_ms"]] for r in result.history])
    mask = pareto_mask(values)
    front = {r["trial"] for r in result.pareto_front}
    assert front == {r["trial"] for r, m in zip(result.history, mask) if m}
    assert str(result.architecture) in {r["architecture"] for r in result.pareto_front}
    hv = [r["hypervolume"] for r in result.history]
    assert all(b >= a - 1e-12 for a, b in zip(hv, hv[1:])) and hv[-1] > hv[0]


def test_latency_objective_is_the_table_prediction(searched, space, table) -> None:
    result, _ = searched
    for row in result.history:
        arch = space.architecture(row["architecture"])
        assert row["latency_ms"] == pytest.approx(table.predict(space, arch), rel=1e-9)


def test_model_phase_beats_random_guessing_on_a_synthetic_problem(searched, space) -> None:
    # The model proposals should include architectures cheaper in quality drop than the median initial point.
    result, _ = searched
    initial = [r["psnr_drop_db"] for r in result.history if r["phase"] == "initial"]
    model = [r["psnr_drop_db"] for r in result.history if r["phase"] == "model"]
    assert min(model) < float(np.median(initial))


def test_result_files_round_trip(searched) -> None:
    result, out = searched
    for name in ("pareto.png", "hypervolume.png", "history.csv", "result.json", "study.journal"):
        assert (out / name).exists(), name
    loaded = SearchResult.load(out)
    assert loaded.engine == "mobo" and loaded.architecture == result.architecture
    assert [r["trial"] for r in loaded.pareto_front] == [r["trial"] for r in result.pareto_front]


def test_resume_continues_from_the_storage(space, table, tmp_path) -> None:
    storage = str(tmp_path / "s.journal")
    quality = synthetic_quality(space)
    first = mobo(space, quality, table, storage=storage, n_evaluations=6, n_initial=4, progress=False)
    calls = []

    def counting(arch):  # noqa: ANN001, ANN202
        calls.append(str(arch))
        return quality(arch)

    second = mobo(space, counting, table, storage=storage, n_evaluations=9, n_initial=4, progress=False)
    assert len(calls) == 3  # only the missing evaluations ran
    assert [r["architecture"] for r in second.history[:6]] == [r["architecture"] for r in first.history]
    assert len(_complete(storage)) == 9


def test_a_study_of_another_problem_is_refused(space, table, tmp_path) -> None:
    storage = str(tmp_path / "s.journal")
    mobo(space, synthetic_quality(space), table, storage=storage, n_evaluations=2, n_initial=2, progress=False)
    with pytest.raises(NasbenchError, match="was created for space 'nafnet_tiny' with objectives"):
        mobo(
            space,
            lambda a: {"psnr_drop_db": 0.0},
            table,
            storage=storage,
            objectives=["psnr_drop_db", "params"],
            n_evaluations=3,
            progress=False,
        )


def test_latency_budget_is_never_exceeded(space, table) -> None:
    budget = 0.9 * table.predict(space, space.baseline())
    result = mobo(
        space,
        synthetic_quality(space),
        table,
        constraints={"latency_ms": budget},
        n_evaluations=10,
        n_initial=4,
        progress=False,
    )
    assert result.history[0]["phase"] == "initial"  # the baseline itself is over budget, so it is skipped
    assert all(r["latency_ms"] <= budget + 1e-9 for r in result.history)


def test_fixed_positions_keep_their_block(space, table) -> None:
    result = mobo(
        space, synthetic_quality(space), table, fixed=["enc4.0", "enc4.1"], n_evaluations=8, n_initial=4, progress=False
    )
    for row in result.history:
        arch = space.architecture(row["architecture"])
        assert arch["enc4.0"] == "naf" and arch["enc4.1"] == "naf"


def test_failed_evaluations_are_recorded_and_skipped(space, table, tmp_path) -> None:
    quality = synthetic_quality(space)
    seen: list[str] = []

    def flaky(arch):  # noqa: ANN001, ANN202
        seen.append(str(arch))
        if len(seen) == 2:
            raise RuntimeError("device busy")
        if len(seen) == 3:
            return {"psnr_drop_db": math.nan}
        return quality(arch)

    storage = str(tmp_path / "s.journal")
    with pytest.warns(RuntimeWarning, match="failed"):
        result = mobo(space, flaky, table, storage=storage, n_evaluations=5, n_initial=5, progress=False)
    assert len(result.history) == 5 and len(seen) == 7
    study = optuna.load_study(
        study_name="mobo-nafnet_tiny",
        storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(storage)),
    )
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert sorted(t.user_attrs["error"].split(":")[0] for t in failed) == [
        "RuntimeError",
        "non-finite objective values {'psnr_drop_db'",
    ]
    assert {t.user_attrs["architecture"] for t in failed}.isdisjoint(r["architecture"] for r in result.history)


def test_too_many_failures_stop_the_search(space, table) -> None:
    def broken(arch):  # noqa: ANN001, ANN202
        raise ValueError("no device")

    with pytest.warns(RuntimeWarning), pytest.raises(NasbenchError, match="3 evaluations in a row failed"):
        mobo(space, broken, table, n_evaluations=5, max_failures=3, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"objectives": ["psnr_drop_db"]}, "at least two objectives"),
        ({"objectives": ["latency_ms", "params"]}, "at least one must be measured"),
        ({"objectives": ["psnr_drop", "latency_ms"]}, "unknown objective 'psnr_drop'.*psnr_drop_db"),
        ({"constraints": {"latency_ms": float("inf")}}, "finite number"),
        ({"fixed": ["enc9.0"]}, "unknown position 'enc9.0'"),
        ({"optimizer": "annealing"}, "unknown optimizer 'annealing'"),
        ({"n_evaluations": 0}, "n_evaluations and n_initial must be ≥ 1"),
    ],
)
def test_bad_settings_are_clear_errors(space, table, kwargs, message) -> None:
    with pytest.raises(NasbenchError, match=message):
        mobo(space, synthetic_quality(space), table, progress=False, **kwargs)


def test_evaluator_without_the_objective_is_a_clear_error(space, table) -> None:
    with pytest.raises(NasbenchError, match="returned no 'psnr_drop_db'.*\\['psnr_db'\\]"):
        mobo(space, lambda a: {"psnr_db": 30.0}, table, n_evaluations=2, progress=False)


def test_latency_objective_without_table_entries_is_a_clear_error(space) -> None:
    other = LatencyTable.load(TABLE.with_name("restormer_tiny_64_t1.yaml"))
    with pytest.raises(NasbenchError, match="latency table lacks .* entries for space 'nafnet_tiny'"):
        mobo(space, synthetic_quality(space), other, progress=False)


def test_sampler_drives_a_plain_optuna_study(space, table) -> None:
    problem = build_problem(space, None, table)
    quality = synthetic_quality(space)
    study = optuna.create_study(
        directions=["minimize", "minimize"], sampler=MoboSampler(problem, MoboConfig(n_initial=3))
    )

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        labels = {p.name: trial.suggest_categorical(p.name, list(p.labels)) for p in problem.free}
        arch = space.architecture(labels)
        return quality(arch)["psnr_drop_db"], table.predict(space, arch)

    study.optimize(objective, n_trials=5)
    assert len(study.trials) == 5 and len(study.best_trials) >= 1


def test_two_worker_processes_share_one_journal(tmp_path) -> None:
    storage = str(tmp_path / "shared.journal")
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), storage, "10"],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NASBENCH_TEST_WORKERS": "2"},  # both start before either evaluates
        )
        for _ in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    trials = _complete(storage)
    assert 10 <= len(trials) <= 11  # both stop once the shared study holds 10; one may finish a last one
    assert len({t.system_attrs["nasbench_pid"] for t in trials}) == 2  # both evaluated
    archs = [t.user_attrs["architecture"] for t in trials]
    assert len(set(archs)) == len(archs)


def test_killed_worker_loses_no_finished_evaluation(space, table, tmp_path) -> None:
    storage = str(tmp_path / "killed.journal")
    worker = subprocess.Popen([sys.executable, str(WORKER), storage, "10", "4"], stderr=subprocess.PIPE, text=True)
    marker = Path(storage + ".slow")
    deadline = time.time() + 240
    while not marker.exists():
        assert worker.poll() is None and time.time() < deadline, worker.stderr.read()[-3000:]
        time.sleep(0.2)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    finished = {t.user_attrs["architecture"] for t in _complete(storage)}
    assert len(finished) == 3
    result = mobo(space, synthetic_quality(space), table, storage=storage, n_evaluations=6, n_initial=4, progress=False)
    assert finished <= {r["architecture"] for r in result.history}  # nothing finished was lost
    study = optuna.load_study(
        study_name="mobo-nafnet_tiny",
        storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(storage)),
    )
    reaped = study.get_trials(states=(TrialState.FAIL,))
    assert len(reaped) == 1 and reaped[0].system_attrs.get("nasbench_reaped") is True
    assert not study.get_trials(states=(TrialState.RUNNING,))
