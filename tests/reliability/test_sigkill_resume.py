"""Interrupted work: each long training step runs in a real process, is killed with SIGKILL partway, and is
resumed here. Checked: (a) at most one checkpoint interval of finished steps is lost, (b) the resumed run
ends bitwise equal to an uninterrupted one (history and every tensor), (c) nothing is left half-written:
the checkpoint the kill left loads, no temporary file survives the resumed run, every file loads.

Profiling and MOBO workers have their own SIGKILL tests (tests/latency/test_profile_resume.py,
tests/search/test_mobo.py::test_killed_worker*).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import killable
from nasbench.train import load_checkpoint

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
