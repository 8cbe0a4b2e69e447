"""benchmarks/mobo.py: which searches it plans, and how finished ones are kept and reused (``--resume``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _run(mobo, problem: str, sampler: str, seed: int, n: int = 3, wall: float = 1.0):
    values = [[float(i), 10.0 - i] for i in range(n)]
    return mobo.Run(sampler, problem, seed, values, [f"a{i}" for i in range(n)], [0.1] * (n - 1), wall, {})


def test_botorch_runs_one_short_search_unless_same_budget(load_benchmark) -> None:
    mobo = load_benchmark("mobo")
    problems, keys = ["tiny", "enumerable"], ["mobo", "botorch"]
    reduced = mobo.plan_jobs(problems, keys, mobo.FULL, same_budget=False)
    assert [(j.problem, j.sampler, j.seed, j.evaluations) for j in reduced if j.sampler == "botorch"] == [
        ("tiny", "botorch", 0, 50)
    ]
    assert len([j for j in reduced if j.sampler == "mobo"]) == 2 * mobo.FULL.seeds
    same = mobo.plan_jobs(problems, keys, mobo.FULL, same_budget=True)
    assert len(same) == 2 * 2 * mobo.FULL.seeds and {j.evaluations for j in same} == {mobo.FULL.evaluations}
    assert [j.problem for j in same] == sorted([j.problem for j in same], key=problems.index)  # problem by problem


def test_longest_first_puts_unknown_then_slow_samplers_ahead(load_benchmark) -> None:
    mobo = load_benchmark("mobo")
    jobs = [mobo.Job("tiny", key, 0, 3) for key in ("random", "gp", "botorch", "tpe")]
    done = [_run(mobo, "tiny", "random", 1, wall=1.0), _run(mobo, "tiny", "gp", 1, wall=40.0),
            _run(mobo, "tiny", "botorch", 1, wall=900.0)]  # fmt: skip
    assert [j.sampler for j in mobo.longest_first(jobs, done)] == ["tpe", "botorch", "gp", "random"]


def test_stored_runs_come_back_only_for_the_same_stamp(load_benchmark, tmp_path: Path, capsys) -> None:
    mobo = load_benchmark("mobo")
    path = tmp_path / "runs.json"
    stamp = {"fingerprint": "abc", "settings": {"small_free": ("enc1.0",)}, "config": {"raw_samples": 512}}
    store = mobo.RunStore(path, stamp)
    assert store.load() == {}  # no file yet
    first, second = _run(mobo, "tiny", "mobo", 0), _run(mobo, "enumerable", "gp", 2)
    store.add(first)
    store.add(second)
    assert not path.with_suffix(".tmp").exists()

    again = mobo.RunStore(path, stamp).load()
    assert again == {("tiny", "mobo", 0): first, ("enumerable", "gp", 2): second}

    for changed, name in (({**stamp, "fingerprint": "abd"}, "fingerprint"), ({**stamp, "config": {}}, "config")):
        assert mobo.RunStore(path, changed).load() == {}
        assert f"made with another {name}; reusing no run" in capsys.readouterr().out


def test_a_file_without_a_stamp_is_not_reused(load_benchmark, tmp_path: Path, capsys) -> None:
    mobo = load_benchmark("mobo")
    path = tmp_path / "runs.json"
    path.write_text(json.dumps([{"sampler": "mobo", "problem": "tiny", "seed": 0}]))  # an older script's list
    assert mobo.RunStore(path, {"fingerprint": "abc"}).load() == {}
    assert "no stamp" in capsys.readouterr().out


def test_a_resumed_store_keeps_its_other_runs_when_it_adds_one(load_benchmark, tmp_path: Path) -> None:
    mobo = load_benchmark("mobo")
    path, stamp = tmp_path / "runs.json", {"fingerprint": "abc"}
    old = mobo.RunStore(path, stamp)
    old.add(_run(mobo, "tiny", "random", 0))
    old.add(_run(mobo, "tiny", "random", 1))
    resumed = mobo.RunStore(path, stamp)
    resumed.load()
    resumed.add(_run(mobo, "tiny", "random", 2))
    assert len(mobo.RunStore(path, stamp).load()) == 3
    fresh = mobo.RunStore(path, stamp)  # without --resume: the file starts over
    fresh.add(_run(mobo, "tiny", "random", 5))
    assert list(mobo.RunStore(path, stamp).load()) == [("tiny", "random", 5)]


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_jobs_below_one_are_refused(load_benchmark, monkeypatch, capsys, jobs: str) -> None:
    mobo = load_benchmark("mobo")
    monkeypatch.setattr("sys.argv", ["mobo.py", "--jobs", jobs])
    with pytest.raises(SystemExit) as exit_:
        mobo.main()
    assert exit_.value.code == 2
    assert f"--jobs must be ≥ 1, got {jobs}" in capsys.readouterr().err
