"""nasbench.train.checkpoint: atomic writes, weights-only reads, RNG states."""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from nasbench.train.checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from nasbench.train.errors import TrainingError


def test_round_trip(tmp_path: Path) -> None:
    model = torch.nn.Conv2d(3, 4, 3)
    state = {"model": model.state_dict(), "step": 7, "history": [{"loss": 0.5}], "note": None, "pair": (1, 2.0)}
    path = save_checkpoint(tmp_path / "sub" / "c.pt", state)
    loaded = load_checkpoint(path)
    assert loaded["step"] == 7 and loaded["history"] == [{"loss": 0.5}] and loaded["pair"] == (1, 2.0)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded["model"][key], value)


def test_a_failed_write_leaves_the_old_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_checkpoint(tmp_path / "c.pt", {"step": 1})

    def crash(obj: object, f: object) -> None:
        f.write(b"PK\x03\x04 half a zip file")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"step": 2})
    monkeypatch.undo()
    assert load_checkpoint(path) == {"step": 1}
    assert os.listdir(tmp_path) == ["c.pt"]  # no temporary file left behind


def test_values_weights_only_would_refuse_are_caught_when_saving(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match=r"c.pt: state.rng.numpy is a ndarray, which weights-only loading refuses"):
        save_checkpoint(tmp_path / "c.pt", {"rng": {"numpy": np.zeros(3)}})
    assert not (tmp_path / "c.pt").exists()


class _Payload:
    """Unpickling this runs a shell command — the attack weights-only loading exists to stop."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_a_malicious_pickle_is_refused_and_not_run(tmp_path: Path, writer: str) -> None:
    marker, path = tmp_path / "pwned", tmp_path / "evil.pt"
    with open(path, "wb") as f:
        if writer == "torch.save":
            torch.save({"model": _Payload(marker)}, f)
        else:
            pickle.dump({"model": _Payload(marker)}, f, protocol=2)  # torch's own protocol: no warning
    with pytest.raises(TrainingError, match=rf"^{path}: refused: .*weights_only=True\)$") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)
    if writer == "torch.save":
        assert "posix.system" in str(info.value)  # names the offending global
    assert not marker.exists()
    # The payload is real: a plain unpickler runs it.
    with open(path, "rb") as f:
        pickle.load(f) if writer == "pickle.dump" else torch.load(f, weights_only=False)
    assert marker.exists()


def test_damaged_and_missing_checkpoints(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "c.pt", {"w": torch.zeros(1000)})
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(TrainingError, match=r"c.pt: cannot read checkpoint"):
        load_checkpoint(path)
    with pytest.raises(TrainingError, match="nothing.pt: no such checkpoint"):
        load_checkpoint(tmp_path / "nothing.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(TrainingError, match="list.pt: not a checkpoint: expected a dict, found list"):
        load_checkpoint(tmp_path / "list.pt")


def test_rng_states_survive_a_weights_only_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    random.gauss(0, 1)  # leaves a cached Gaussian in Python's state
    np.random.standard_normal()
    path = save_checkpoint(tmp_path / "rng.pt", {"rng": capture_rng_state()})

    def draws() -> tuple[torch.Tensor, np.ndarray, list[float]]:
        return torch.rand(5), np.random.standard_normal(5), [random.gauss(0, 1) for _ in range(5)]

    expected = draws()
    draws()
    restore_rng_state(load_checkpoint(path)["rng"])
    again = draws()
    assert torch.equal(expected[0], again[0])
    np.testing.assert_array_equal(expected[1], again[1])
    assert expected[2] == again[2]
