"""Objectives: names, directions, and additive values that equal the table prediction and the parameter count."""

from __future__ import annotations

import pytest
import torch

from nasbench import count_params, load_space
from nasbench.latency import LatencyTable
from nasbench.search.objectives import ObjectiveError, additive_table, list_objectives, parse_objective

TABLES = "nasbench/profiles/tables"


def test_names_and_directions() -> None:
    assert parse_objective("latency_ms").kind == "additive"
    assert parse_objective("psnr_db").direction == "maximize"
    assert parse_objective("psnr_drop_db").sign == 1.0
    custom = parse_objective("max:sharpness")
    assert (custom.name, custom.direction, custom.kind, custom.sign) == ("sharpness", "maximize", "measured", -1.0)
    assert "count:" in list_objectives()


def test_unknown_objective_suggests_a_name() -> None:
    with pytest.raises(ObjectiveError, match="unknown objective 'latency'.*latency_ms.*'min:NAME'"):
        parse_objective("latency")


@pytest.mark.parametrize("space_name", ["nafnet_tiny", "restormer_tiny"])
def test_latency_is_the_table_prediction(space_name) -> None:
    space = load_space(space_name)
    table = LatencyTable.load(f"{TABLES}/{space_name}_64_t1.yaml")
    lat = additive_table(parse_objective("latency_ms"), space, table)
    archs = [space.baseline()] + [space.random(s) for s in range(5)]
    batch = lat.tensor(torch.tensor([space.indices(a) for a in archs]))
    for arch, value in zip(archs, batch.tolist()):
        assert value == pytest.approx(table.predict(space, arch), rel=1e-12)


def test_params_are_exact() -> None:
    space = load_space("nafnet_tiny")
    params = additive_table(parse_objective("params"), space)
    for seed in range(3):
        arch = space.random(seed)
        assert params.value(arch) == count_params(space.build(arch))


def test_count_counts_blocks() -> None:
    space = load_space("restormer_tiny")
    count = additive_table(parse_objective("count:restormer"), space)
    assert count.value(space.baseline()) == len(space.positions)
    arch = space.random(3)
    assert count.value(arch) == sum(label == "restormer" for label in arch.labels)
    with pytest.raises(ObjectiveError, match="has no block 'naf'"):
        additive_table(parse_objective("count:naf"), space)


def test_latency_needs_a_table() -> None:
    with pytest.raises(ObjectiveError, match="needs a latency table"):
        additive_table(parse_objective("latency_ms"), load_space("nafnet_tiny"))
