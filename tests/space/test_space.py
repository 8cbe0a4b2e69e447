"""Built-in spaces, the Python API, YAML round trips and network building."""

from __future__ import annotations

import math

import pytest
import torch

import nasbench
from nasbench import Candidate, SearchSpace, load_space

BUILTIN = nasbench.list_spaces()
TINY = {
    "type": "nafnet",
    "width": 8,
    "encoder_blocks": [1, 1],
    "middle_blocks": 2,
    "decoder_blocks": [1, 1],
}


def test_builtin_spaces() -> None:
    assert set(BUILTIN) == {"nafnet_sidd", "nafnet_gopro", "restormer", "lite_denoise", "nafnet_tiny", "restormer_tiny"}


@pytest.mark.parametrize("name", BUILTIN)
def test_yaml_round_trip(name: str, tmp_path) -> None:
    space = load_space(name)
    path = tmp_path / f"{name}.yaml"
    space.to_yaml(path)
    again = SearchSpace.from_yaml(path)
    assert again == space
    assert again.positions == space.positions
    assert again.to_yaml() == space.to_yaml()


@pytest.mark.parametrize(
    ("name", "positions", "size"),
    [
        ("nafnet_sidd", 36, 4**36),
        ("nafnet_gopro", 36, 4**36),
        ("nafnet_tiny", 11, 4**11),
        ("restormer", 44, 2**44),
        ("restormer_tiny", 9, 2**9),
        ("lite_denoise", 18, 4**9 * 3**9),
    ],
)
def test_sizes(name: str, positions: int, size: int) -> None:
    space = load_space(name)
    assert len(space.positions) == positions
    assert space.size == size == math.prod(len(p.candidates) for p in space.positions)


def test_nafnet_sidd_positions() -> None:
    space = load_space("nafnet_sidd")
    names = [p.name for p in space.positions]
    assert names[:3] == ["enc1.0", "enc1.1", "enc2.0"]
    p = space.position("enc4.7")
    assert (p.channels, p.resolution, p.labels) == (256, 8, ("naf", "naf_bn", "naf_lite", "conv_bn_relu"))
    assert space.position("middle.11").channels == 512
    assert space.position("dec1.1").resolution == 1
    assert space.pad_multiple == 16


def test_restormer_stage_options() -> None:
    space = load_space("restormer")
    latent = space.position("latent.0").candidate("restormer")
    assert latent.kwargs["heads"] == 8
    assert space.position("dec1.0").channels == 96
    assert space.position("refine.3").candidate("restormer").kwargs["heads"] == 1


def test_baseline_and_random() -> None:
    space = load_space("nafnet_tiny")
    assert set(space.baseline().labels) == {"naf"}
    assert space.random(3) == space.random(3)
    assert len({space.random(seed) for seed in range(20)}) > 15


def test_python_api_equals_yaml(tmp_path) -> None:
    space = SearchSpace(
        name="mine",
        backbone=TINY,
        candidates=["naf", "conv_bn_relu", Candidate.of("lite", label="lite_s", hidden_ratio=0.25)],
        stages={"middle": {"candidates": ["naf"]}},
        positions={"enc1.0": {"candidates": ["naf", "identity"]}},
    )
    assert not space.position("middle.1").searchable
    assert space.position("enc1.0").labels == ("naf", "identity")
    assert space.size == 2 * 3**3
    path = tmp_path / "mine.yaml"
    path.write_text(space.to_yaml())
    assert load_space(path) == space


def test_option_precedence() -> None:
    space = SearchSpace(
        name="opts",
        backbone=TINY,
        candidates=["naf", {"block": "naf", "label": "naf_wide", "options": {"ffn_expand": 4}}],
        block_options={"naf": {"dw_expand": 1, "ffn_expand": 1}},
        stages={"middle": {"block_options": {"naf": {"dw_expand": 4}}}},
        positions={"middle.1": {"block_options": {"naf": {"dw_expand": 2}}}},
    )
    assert space.position("enc1.0").candidate("naf").kwargs == {"dw_expand": 1, "ffn_expand": 1}
    assert space.position("middle.0").candidate("naf").kwargs == {"dw_expand": 4, "ffn_expand": 1}
    assert space.position("middle.1").candidate("naf").kwargs == {"dw_expand": 2, "ffn_expand": 1}
    assert space.position("middle.1").candidate("naf_wide").kwargs == {"dw_expand": 2, "ffn_expand": 4}


def test_python_api_errors_name_the_space() -> None:
    with pytest.raises(nasbench.SpaceError, match=r"SearchSpace\('bad'\): candidates.0: unknown block 'nope'"):
        SearchSpace(name="bad", backbone=TINY, candidates=["nope"])


@pytest.mark.parametrize("name", ["nafnet_tiny", "restormer_tiny", "lite_denoise"])
def test_build_random_architectures(name: str) -> None:
    space = load_space(name)
    x = torch.rand(1, 3, 19, 22)  # not a multiple of the padding: exercises pad and crop
    for seed in range(2):
        model = space.build(space.random(seed)).eval()
        with torch.no_grad():
            y = model(x)
        assert y.shape == x.shape and torch.isfinite(y).all()


def test_build_is_plain_and_loads_with_weights_only(tmp_path) -> None:
    space = load_space("nafnet_tiny")
    arch = space.random(0)
    model = space.build(arch)
    path = tmp_path / "w.pt"
    torch.save(model.state_dict(), path)
    fresh = space.build(arch)
    fresh.load_state_dict(torch.load(path, weights_only=True))
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)


def test_build_rejects_foreign_architecture() -> None:
    tiny, sidd = load_space("nafnet_tiny"), load_space("nafnet_sidd")
    with pytest.raises(nasbench.ArchitectureError, match="does not fit space 'nafnet_sidd'"):
        sidd.build(tiny.baseline())


def test_wrong_input_channels() -> None:
    model = load_space("nafnet_tiny").build()
    with pytest.raises(nasbench.ShapeError, match=r"expected an N×3×H×W tensor, got shape \(1, 1, 16, 16\)"):
        model(torch.rand(1, 1, 16, 16))


def test_user_block_usable_from_yaml(tmp_path) -> None:
    @nasbench.register_block("test_yaml_block")
    class Doubler(torch.nn.Module):
        def __init__(self, channels: int, factor: float = 2.0) -> None:
            super().__init__()
            self.factor = factor

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.factor

    try:
        path = tmp_path / "user.yaml"
        path.write_text(
            "name: user\n"
            "backbone: {type: nafnet, width: 8, encoder_blocks: [1], middle_blocks: 1, decoder_blocks: [1]}\n"
            "candidates: [naf, {block: test_yaml_block, options: {factor: 0.5}}]\n"
        )
        space = load_space(path)
        arch = space.architecture("enc1:test_yaml_block middle:naf dec1:naf")
        model = space.build(arch)
        assert model.encoders[0][0].factor == 0.5
    finally:
        nasbench.blocks.unregister_block("test_yaml_block")
