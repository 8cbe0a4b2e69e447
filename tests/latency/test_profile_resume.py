"""A profiling run killed with SIGKILL resumes where it stopped (real process, real kill)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nasbench import SearchSpace
from nasbench.latency import LatencyTable, Protocol
from nasbench.latency.profile import CHECKPOINT

SPACE = {
    "name": "resume",
    "backbone": {"type": "nafnet", "width": 4, "encoder_blocks": [1], "middle_blocks": 1, "decoder_blocks": [1]},
    "candidates": ["conv_bn_relu", "identity"],
}
PROTOCOL = {"warmup": 1, "runs": 2, "rounds": 400}

SCRIPT = f"""
import sys
from nasbench import SearchSpace
from nasbench.latency import LatencyTable, Protocol
space = SearchSpace.from_dict({SPACE!r})
LatencyTable.profile(space, (96, 96), Protocol(**{PROTOCOL!r}), work_dir=sys.argv[1], progress=False)
"""


def _round(path: Path) -> int:
    try:
        return json.loads(path.read_text())["round"]
    except (OSError, ValueError, KeyError):
        return 0


def test_sigkill_then_resume(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path)], env={**os.environ, "PYTHONUNBUFFERED": "1"})
    checkpoint = tmp_path / CHECKPOINT
    deadline = time.monotonic() + 120
    while _round(checkpoint) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = json.loads(checkpoint.read_text())
    assert 3 <= killed["round"] < PROTOCOL["rounds"], "the run must be killed partway"
    exported = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.onnx")}
    assert len(exported) == 5  # 2 shapes × 2 candidates + the skeleton

    table = LatencyTable.profile(
        SearchSpace.from_dict(SPACE), (96, 96), Protocol(**PROTOCOL), work_dir=tmp_path, progress=False
    )
    final = json.loads(checkpoint.read_text())
    assert final["round"] == PROTOCOL["rounds"]
    for key, samples in killed["samples"].items():
        assert final["samples"][key][: len(samples)] == samples  # nothing measured before the kill is lost
        assert len(final["samples"][key]) == PROTOCOL["rounds"] * PROTOCOL["runs"]
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.onnx")} == exported  # not re-exported
    assert all(e.runs == PROTOCOL["rounds"] * PROTOCOL["runs"] for e in table.blocks.values())
    assert not list(tmp_path.glob("*.tmp"))


def test_checkpoint_from_other_settings_is_refused(tmp_path: Path) -> None:
    (tmp_path / CHECKPOINT).write_text(json.dumps({"protocol": {}, "keys": [], "round": 1, "samples": {}}))
    import pytest

    from nasbench.latency import LatencyTableError

    with pytest.raises(LatencyTableError, match="made with other settings"):
        LatencyTable.profile(
            SearchSpace.from_dict(SPACE),
            (96, 96),
            Protocol(warmup=0, runs=1, rounds=1),
            work_dir=tmp_path,
            progress=False,
        )
