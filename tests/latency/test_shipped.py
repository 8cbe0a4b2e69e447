"""shipped_table / latency_table: the shipped table is used only when it was measured like the protocol
asks (threads, optimisation level) at the requested square size; otherwise latency_table profiles one."""

from __future__ import annotations

import pytest

import nasbench
from nasbench.latency import Protocol, latency_table, shipped_table
from nasbench.latency.shipped import TABLES_DIR


@pytest.fixture(scope="module")
def space() -> nasbench.SearchSpace:
    return nasbench.load_space("lite_denoise")


@pytest.mark.parametrize("threads", [1, 2])
def test_the_shipped_table_measured_with_the_protocols_threads_is_chosen(space, threads: int) -> None:
    table = shipped_table(space, [256, 256], Protocol(threads=threads))
    assert table is not None and table.source == str(TABLES_DIR / f"lite_denoise_256_t{threads}.yaml")
    assert table.metadata["threads"] == threads
    assert latency_table(space, (3, 256, 256), Protocol(threads=threads)).source == table.source


@pytest.mark.parametrize(
    ("size", "protocol"),
    [
        ([128, 128], Protocol()),  # no table at this size
        ([256, 128], Protocol()),  # shipped tables are square
        ([256, 256], Protocol(threads=4)),  # none measured with 4 threads
        ([256, 256], Protocol(graph_optimization="basic")),  # measured with "all"
    ],
)
def test_no_shipped_table_unless_it_was_measured_like_the_protocol(space, size, protocol: Protocol) -> None:
    assert shipped_table(space, size, protocol) is None


def test_a_shipped_table_that_misses_entries_of_the_space_is_not_used() -> None:
    # nafnet_tiny's table at 64 px holds no lite blocks, so it cannot price a space with them at that size.
    other = nasbench.load_space("nafnet_tiny")
    assert shipped_table(other, [64, 64]) is not None
    renamed = nasbench.SearchSpace.from_dict({**nasbench.load_space("lite_denoise").to_dict(), "name": "nafnet_tiny"})
    assert shipped_table(renamed, [64, 64]) is None
