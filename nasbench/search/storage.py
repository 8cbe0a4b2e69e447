"""Optuna storages for searches shared by several worker processes.

A storage is given as

- ``None``: in memory (one process, nothing survives the process);
- a path ending in ``.journal`` / ``.log`` (or any path without ``://``): an Optuna journal file — the
  recommended choice for several processes on one machine;
- a database URL (``sqlite:///study.db``, ``postgresql+psycopg2://…``): an Optuna RDB storage — SQLite gets
  a 60 s lock timeout; use PostgreSQL or MySQL when workers run on several machines;
- an ``optuna.storages.BaseStorage`` instance, used as is.

Workers that die leave their trial RUNNING. :func:`reap_dead_trials` marks as FAIL the RUNNING trials
whose worker process (recorded as host and PID) no longer exists on this host, so their architectures
are proposed again; an RDB storage may in addition use Optuna's heartbeat.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from nasbench.errors import NasbenchError
from nasbench.train.checkpoint import process_alive

WORKER_HOST = "nasbench_host"
WORKER_PID = "nasbench_pid"


def open_storage(storage: str | Path | BaseStorage | None) -> BaseStorage | None:
    """An Optuna storage from a journal-file path, a database URL, an instance or None (in memory)."""
    if storage is None or isinstance(storage, BaseStorage):
        return storage
    text = str(storage)
    if "://" in text:
        kwargs: dict[str, Any] = {}
        if text.startswith("sqlite"):
            kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60.0}}
        try:
            return RDBStorage(text, **kwargs)
        except Exception as exc:  # SQLAlchemy raises many types; the message is what the user needs
            raise NasbenchError(f"storage {text!r}: cannot open the database ({_one_line(exc)})") from None
    path = Path(text)
    if path.exists() and path.is_dir():
        raise NasbenchError(f"storage {text!r} is a directory; give a journal file such as {path / 'study.journal'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return JournalStorage(JournalFileBackend(str(path)))
    except Exception as exc:  # a malformed journal raises from optuna's replay
        raise NasbenchError(f"storage {text!r}: not a readable Optuna journal file ({_one_line(exc)})") from None


def mark_worker(study: optuna.Study, trial: optuna.Trial) -> None:
    """Record which process evaluates ``trial`` (for :func:`reap_dead_trials`)."""
    study._storage.set_trial_system_attr(trial._trial_id, WORKER_HOST, socket.gethostname())
    study._storage.set_trial_system_attr(trial._trial_id, WORKER_PID, os.getpid())


def reap_dead_trials(study: optuna.Study) -> list[int]:
    """Mark RUNNING trials of dead worker processes on this host as FAIL; returns their numbers."""
    host = socket.gethostname()
    reaped = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.system_attrs.get(WORKER_PID)
        if t.system_attrs.get(WORKER_HOST) != host or pid is None or pid == os.getpid() or process_alive(int(pid)):
            continue
        try:
            study._storage.set_trial_system_attr(t._trial_id, "nasbench_reaped", True)
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        except RuntimeError:  # another worker finished or reaped it first
            continue
        reaped.append(t.number)
    return reaped


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


__all__ = ["WORKER_HOST", "WORKER_PID", "mark_worker", "open_storage", "reap_dead_trials"]
