"""A latency table of the nafnet_tiny space at 32×32, measured once per test session (a few seconds)."""

from __future__ import annotations

import pytest

from nasbench import load_space
from nasbench.latency import LatencyTable, Protocol

FAST = Protocol(warmup=1, runs=2, rounds=2)


@pytest.fixture(scope="session")
def tiny_space():
    return load_space("nafnet_tiny")


@pytest.fixture(scope="session")
def tiny_table(tiny_space, tmp_path_factory) -> LatencyTable:
    return LatencyTable.profile(tiny_space, (32, 32), FAST, work_dir=tmp_path_factory.mktemp("profile"), progress=False)
