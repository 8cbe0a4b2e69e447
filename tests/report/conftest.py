"""Run directories for the report tests, made by the real pipelines at tiny settings.

nafnet_tiny with its shipped 64×64 latency table (measured, so nothing is profiled here), 16 px
training crops, validation photos cut to 32 px, one training step per network, three MOBO evaluations
over the two least salient positions. The numbers are meaningless; the files are real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import nasbench
from nasbench.latency import LatencyTable
from nasbench.search.mobo_pipeline import mobo_pipeline
from nasbench.search.pipeline import darts_pipeline

TABLE = Path(nasbench.__file__).parent / "profiles" / "tables" / "nafnet_tiny_64_t1.yaml"
DATA = {"task": "denoise", "sigma": 25, "crop": 16, "val_max_side": 32}
DARTS = {
    "latency_input": [64, 64],
    "data": DATA,
    "darts": {"steps": 3, "warmup_steps": 1, "batch_size": 2},
    "finetune": {"steps": 1, "batch_size": 2},
}
MOBO = {
    "latency_input": [64, 64],
    "data": DATA,
    "teacher": {"steps": 2, "batch_size": 2},
    "saliency": {"protect": 9, "batches": 1, "batch_size": 2},
    "surrogates": {"steps": 1, "batch_size": 2, "eval_batches": 1},
    "mobo": {"n_evaluations": 3, "n_initial": 2},
    "finetune": {"steps": 1, "batch_size": 2},
    "front": {"measure_latency": False},
}


@pytest.fixture(scope="session")
def one_thread_session() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _run(factory: pytest.TempPathFactory, pipeline, settings: dict, engine: str) -> Path:
    out = factory.mktemp(f"{engine}_run")
    space = nasbench.load_space("nafnet_tiny")
    pipeline(space, LatencyTable.load(TABLE), settings, out, progress=False, extra_settings={"engine": engine})
    return out


@pytest.fixture(scope="session")
def darts_run(tmp_path_factory, one_thread_session) -> Path:
    return _run(tmp_path_factory, darts_pipeline, DARTS, "darts")


@pytest.fixture(scope="session")
def mobo_run(tmp_path_factory, one_thread_session) -> Path:
    return _run(tmp_path_factory, mobo_pipeline, MOBO, "mobo")
