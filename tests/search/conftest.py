"""A toy search problem: a 3-position NAFNet space, tiny crops of the built-in photos, a real table."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from nasbench import SearchSpace
from nasbench.latency import LatencyTable, Protocol
from nasbench.train import CropDataset, builtin_images

TOY_SPACE = {
    "name": "toy",
    "backbone": {"type": "nafnet", "width": 4, "encoder_blocks": [1], "middle_blocks": 1, "decoder_blocks": [1]},
    "candidates": ["naf", "conv_bn_relu", "identity"],
}


@pytest.fixture(scope="session")
def toy_space() -> SearchSpace:
    return SearchSpace.from_dict(TOY_SPACE)


@pytest.fixture(scope="session")
def toy_table(toy_space, tmp_path_factory) -> LatencyTable:
    return LatencyTable.profile(
        toy_space,
        (16, 16),
        Protocol(warmup=1, runs=3, rounds=2),
        work_dir=tmp_path_factory.mktemp("toy"),
        progress=False,
    )


@pytest.fixture(scope="session")
def toy_data():
    return CropDataset(builtin_images("train"), crop=16, degradation="noise", length=64, seed=0)


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One intra-op thread: the tensors are tiny, and on shared cores extra threads only wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
