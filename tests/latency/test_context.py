"""Blocks measured in context (inside the skeleton) instead of alone; real onnxruntime sessions on a
3-position space at 16×16."""

from __future__ import annotations

import pytest
import torch

from nasbench import SearchSpace
from nasbench.latency import LatencyTable, LatencyTableError, Protocol, block_key
from nasbench.latency.context import context_choices, context_entry, context_network
from nasbench.latency.runtime import Stats

SPACE = {
    "name": "ctx",
    "backbone": {"type": "nafnet", "width": 8, "encoder_blocks": [1], "middle_blocks": 1, "decoder_blocks": [1]},
    "candidates": ["conv_bn_relu", "identity"],
}
QUICK = Protocol(warmup=1, runs=2, rounds=1)


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return SearchSpace.from_dict(SPACE)


def test_context_network_is_the_skeleton_with_the_chosen_positions(space) -> None:
    torch.manual_seed(0)
    net = context_network(space, {"enc1.0": "conv_bn_relu", "dec1.0": "conv_bn_relu", "middle.0": "identity"})
    kinds = [type(m).__name__ for m in (net.encoders[0][0], net.middle_blks[0], net.decoders[0][0])]
    assert kinds[1] == "IdentityBlock" and kinds[0] == kinds[2] != "IdentityBlock"
    empty = context_network(space, {})
    assert [type(m).__name__ for m in empty.modules()] == [type(m).__name__ for m in space.skeleton().modules()]
    x = torch.randn(1, 3, 16, 16)
    assert net.eval()(x).shape == x.shape


def test_context_choices_fill_every_position_of_a_signature(space) -> None:
    table = LatencyTable({}, (16, 16))
    choices = context_choices(space, table, (16, 16))
    # enc1.0 and dec1.0 share the 8-channel full-resolution shape; the middle has its own
    both = {"enc1.0": "conv_bn_relu", "dec1.0": "conv_bn_relu"}
    assert choices[block_key(space, "enc1.0", "conv_bn_relu", 16, 16)] == both
    assert choices[block_key(space, "middle.0", "conv_bn_relu", 16, 16)] == {"middle.0": "conv_bn_relu"}
    assert len(choices) == 4


def test_context_entry_is_the_difference_per_copy_clipped_at_zero() -> None:
    skeleton = Stats(10.0, 9.0, 12.0, 4)
    entry = context_entry(Stats(16.0, 12.0, 20.0, 4), skeleton, 2)
    assert (entry.median_ms, entry.p10_ms, entry.p90_ms, entry.runs, entry.source) == (3.0, 1.0, 5.0, 4, "context")
    assert context_entry(Stats(9.5, 9.0, 10.5, 4), skeleton, 1).median_ms == 0.0


def test_profile_in_context(space, tmp_path) -> None:
    table = LatencyTable.profile(space, (16, 16), QUICK, work_dir=tmp_path, progress=False, context=True)
    assert table.metadata["block_context"] == "skeleton"
    assert len(table.blocks) == 4 and len(table.skeletons) == 1
    assert all(e.source == "context" and 0 <= e.p10_ms <= e.median_ms <= e.p90_ms for e in table.blocks.values())
    assert table.predict(space, space.random(0)) > 0
    again = LatencyTable.load(table.save(tmp_path / "ctx.yaml"))
    assert again == table
    # an isolated profile cannot continue this checkpoint, nor merge with this table
    with pytest.raises(LatencyTableError, match="checkpoint was made with other settings"):
        LatencyTable.profile(space, (16, 16), QUICK, work_dir=tmp_path, progress=False)
    isolated = LatencyTable({k: v for k, v in table.metadata.items() if k != "block_context"}, (16, 16))
    with pytest.raises(LatencyTableError, match="different block_context: 'skeleton' vs None"):
        table.merge(isolated)
