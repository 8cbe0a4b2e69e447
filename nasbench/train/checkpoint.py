"""Checkpoints: written atomically, read back with ``torch.load(weights_only=True)`` only.

A checkpoint is a dict of plain values — tensors, state dicts, numbers, strings, ``None``, lists,
tuples and dicts — so that loading one never runs code from the file. A file that holds anything else
(a pickled object whose global is not on torch's weights-only allowlist) is refused with a
:class:`TrainingError`; nothing in it is executed.
"""

from __future__ import annotations

import glob
import os
import pickle
import random
import socket
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from nasbench.train.errors import TrainingError

_PLAIN = (torch.Tensor, bool, int, float, str, type(None))


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (:func:`atomic_write`), so a crash leaves either the old or
    the new checkpoint, never a partial one. Values outside the weights-only vocabulary raise
    :class:`TrainingError` here, rather than when the checkpoint is loaded."""
    path = Path(path)
    _check_plain(state, path, "state")
    return atomic_write(path, lambda f: torch.save(dict(state), f))


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Create or replace the file ``path`` atomically: ``write(f)`` fills a temporary file in the same
    folder, which is flushed to disk and renamed over ``path`` (``os.replace``) — so readers, and a run
    killed at any moment (even by SIGKILL), see the old file or the new one, never a partial one.

    A process killed while writing leaves its temporary file (``.<name>.<host>.<pid>.<random>.tmp``);
    the next successful write of ``path`` removes those of processes of this host that no longer run."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.{socket.gethostname()}.{os.getpid()}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    _remove_stale_temporaries(path)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` onto the CPU, weights-only.

    Raises :class:`TrainingError` naming the file when it is missing, damaged, or refused because it
    holds a non-allowlisted object (e.g. a pickle payload that would call ``os.system``)."""
    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise TrainingError(
            f"{path}: refused: {_refusal(exc)}; a checkpoint may hold only tensors, numbers, strings, "
            "lists and dicts (torch.load weights_only=True)"
        ) from None
    except Exception as exc:  # torch raises RuntimeError, KeyError, EOFError, ... for damaged files
        raise TrainingError(f"{path}: cannot read checkpoint: {type(exc).__name__}: {_first_line(exc)}") from None
    if not isinstance(state, dict):
        raise TrainingError(f"{path}: not a checkpoint: expected a dict, found {type(state).__name__}")
    return state


def capture_rng_state() -> dict[str, Any]:
    """The global random generators' states — torch (and CUDA when present), numpy, Python ``random`` —
    as tensors and plain numbers, which weights-only loading accepts (numpy's and Python's own state
    objects are not)."""
    version, internal, gauss_next = random.getstate()
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {"version": version, "internal": torch.tensor(internal, dtype=torch.int64), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Set the global random generators to a state from :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python_state = state["python"]
    random.setstate(
        (python_state["version"], tuple(int(v) for v in python_state["internal"].tolist()), python_state["gauss_next"])
    )


def _check_plain(value: object, path: Path, where: str) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str | int):
                raise TrainingError(f"{path}: {where}: key {key!r} is a {type(key).__name__}; use str or int keys")
            _check_plain(item, path, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_plain(item, path, f"{where}[{i}]")
    elif not isinstance(value, _PLAIN):
        raise TrainingError(
            f"{path}: {where} is a {type(value).__name__}, which weights-only loading refuses; "
            "store tensors, numbers, strings, lists or dicts"
        )


def _refusal(exc: BaseException) -> str:
    """The line of torch's long weights-only message that names the offending global or opcode."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return next((line for line in lines if "GLOBAL" in line or "Unsupported" in line), "not a weights-only file")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; platforms that cannot open folders (Windows) skip it."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temporaries(path: Path) -> None:
    """Delete the temporary files of ``path`` left by killed writers: same host, process gone."""
    head, host = f".{path.name}.", socket.gethostname()
    for tmp in path.parent.glob(f"{glob.escape(head)}*.tmp"):
        parts = tmp.name[len(head) : -len(".tmp")].rsplit(".", 2)
        if len(parts) == 3 and parts[0] == host and parts[1].isdigit() and not process_alive(int(parts[1])):
            tmp.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host exists (a zombie counts as alive until it is waited for)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


__all__ = [
    "atomic_write",
    "capture_rng_state",
    "load_checkpoint",
    "process_alive",
    "restore_rng_state",
    "save_checkpoint",
]
