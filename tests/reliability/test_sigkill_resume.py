"""Interrupted work: each long training step runs in a real process, is killed with SIGKILL partway, and is
resumed here. Checked: (a) at most one checkpoint interval of finished steps is lost, (b) the resumed run
ends bitwise equal to an uninterrupted one (history and every tensor), (c) nothing is left half-written:
the checkpoint the kill left loads, no temporary file survives the resumed run, every file loads.

Profiling and MOBO workers have their own SIGKILL tests (tests/latency/test_profile_resume.py,
tests/search/test_mobo.py::test_killed_worker_loses_no_finished_evaluation).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import killable
import pytest
import torch

import nasbench
from nasbench.latency import LatencyTable
from nasbench.search import darts
from nasbench.train import TrainingError, load_checkpoint, save_checkpoint

KILL_AFTER = 2 * killable.CHECKPOINT_EVERY + 1  # finished steps: two checkpoints written, one step more


def _kill_partway(step: str, out: Path) -> int:
    """Start ``killable.py step out``, SIGKILL it once it reports KILL_AFTER finished steps; the last
    finished step it reported."""
    script = Path(killable.__file__)
    proc = subprocess.Popen(
        [sys.executable, str(script), step, str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    finished, deadline = 0, time.monotonic() + 240
    try:
        for line in proc.stdout:
            finished = int(line.split()[1])
            if finished >= KILL_AFTER or time.monotonic() > deadline:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"the {step} run ended by itself (code {proc.returncode})"
    return finished


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("step", sorted(killable.RUNS))
def test_sigkill_then_resume(step: str, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    finished = _kill_partway(step, out)
    assert KILL_AFTER <= finished < killable.STEPS, "the run must be killed partway"

    checkpoint = load_checkpoint(out / killable.CHECKPOINTS[step])  # (c) what the kill left loads
    assert 0 <= finished - checkpoint["step"] <= killable.CHECKPOINT_EVERY  # (a)

    history, state = killable.run(step, out, resume=True)
    reference_history, reference_state = killable.run(step, tmp_path / "straight")
    assert history == reference_history  # (b)
    assert _same(state, reference_state)  # (b)

    files = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.endswith(".tmp")]  # (c)
    for path in files:
        assert load_checkpoint(path)["step"] == killable.STEPS  # (c)


WRITER = """
import sys, torch
from nasbench.train import save_checkpoint
for version in range(1, 10**6):
    save_checkpoint(sys.argv[1], {"step": version, "w": torch.full((2_000_000,), float(version))})
    print(version, flush=True)
"""


def test_sigkill_during_checkpoint_writes(tmp_path: Path) -> None:
    """A process that does nothing but replace an 8 MB checkpoint is killed while a write is in progress: the
    file is one whole version, and the next write (here) removes the temporary file the dead writer left
    (unless its rename won the race against the kill)."""
    path = tmp_path / "c.pt"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if int(line) >= 3:
                break
        deadline = time.monotonic() + 30  # aim the kill at a write in progress: its temporary file exists
        while not list(tmp_path.glob(".c.pt.*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.001)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    state = load_checkpoint(path)
    assert state["step"] >= 3 and torch.equal(state["w"], torch.full((2_000_000,), float(state["step"])))
    left = [p.name for p in tmp_path.iterdir() if p != path]
    assert all(name.startswith(".c.pt.") and f".{proc.pid}." in name and name.endswith(".tmp") for name in left)
    save_checkpoint(path, {"step": 0})
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_darts_resume_with_other_settings_is_refused(tmp_path: Path) -> None:
    table = LatencyTable.load(Path(nasbench.__file__).parent / "profiles" / "tables" / "nafnet_tiny_64_t1.yaml")
    space, crops = nasbench.load_space("nafnet_tiny"), killable._crops()
    settings = {"steps": 2, "warmup_steps": 1, "batch_size": 2, "checkpoint_every": 1, "progress": False}
    darts(space, crops, table, output=tmp_path, **settings)
    expected = (
        f"{tmp_path / 'darts-checkpoint.pt'}: resume: the checkpoint has mu=0.5 but this call mu=0.1; "
        "resuming is exact only with the same settings"
    )
    with pytest.raises(TrainingError, match=f"^{re.escape(expected)}$"):
        darts(space, crops, table, output=tmp_path, resume=True, mu=0.1, **settings)
