"""The model zoo: published parameter counts and MACs."""

from __future__ import annotations

import pytest
import torch

import nasbench
from nasbench import count_macs, count_params, create_model, load_space

# Parameter counts of the official implementations (shared/design/REFERENCE.md).
OFFICIAL_PARAMS = {
    "nafnet_sidd_w32": 29_159_715,
    "nafnet_gopro_w32": 17_111_907,
    "restormer": 26_126_644,
    "lite_denoise_net": 1_963_411,
}


@pytest.mark.parametrize(("name", "params"), OFFICIAL_PARAMS.items())
def test_parameter_counts_equal_official(name: str, params: int) -> None:
    assert count_params(create_model(name)) == params


def test_nafnet_sidd_from_space_baseline() -> None:
    space = load_space("nafnet_sidd")
    assert count_params(space.build(space.baseline())) == 29_159_715


def test_restormer_bias_free_variant() -> None:
    space = load_space("restormer")
    spec = space.to_dict()
    spec["backbone"]["layernorm"] = "bias_free"
    spec["name"] = "restormer_bias_free"
    params = count_params(nasbench.SearchSpace.from_dict(spec).build())
    assert round(params / 1e6, 3) == 26.112  # the denoising configs' count


@pytest.mark.parametrize(
    ("name", "convention", "giga_macs"),
    [
        # Convolution MACs at 256×256 counted from the official code (REFERENCE.md, blocks.md §1.5, §2.6).
        ("nafnet_sidd_w32", "conv", 16.05),
        ("nafnet_gopro_w32", "conv", 15.96),
        ("restormer", "conv", 140.99),
        ("restormer", "all", 154.88),
    ],
)
def test_macs_match_published_counts(name: str, convention: str, giga_macs: float) -> None:
    macs = count_macs(create_model(name), (3, 256, 256), convention=convention)
    assert round(macs / 1e9, 2) == giga_macs


def test_count_macs_convention_and_shape_errors() -> None:
    model = create_model("nafnet_tiny")
    with pytest.raises(ValueError, match="convention must be one of"):
        count_macs(model, (3, 32, 32), convention="flops")  # type: ignore[arg-type]
    with pytest.raises(nasbench.ShapeError, match=r"input_size must be \(C, H, W\) or \(N, C, H, W\)"):
        count_macs(model, (32, 32))


def test_count_macs_runs_no_real_computation() -> None:
    model = create_model("nafnet_tiny")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert count_macs(model, (1, 3, 64, 64)) > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert next(model.parameters()).device.type == "cpu"


def test_unknown_model() -> None:
    with pytest.raises(nasbench.ModelError, match=r"unknown model 'nafnet_sid_w32'.*did you mean 'nafnet_sidd_w32'"):
        create_model("nafnet_sid_w32")


def test_list_models() -> None:
    assert set(nasbench.list_models()) >= {"nafnet_sidd_w32", "nafnet_gopro_w32", "restormer", "lite_denoise_net"}


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        (
            "nafnet_sidd_w32",
            [
                "intro.weight",
                "encoders.0.1.sca.1.weight",
                "encoders.3.7.norm2.bias",
                "downs.3.weight",
                "middle_blks.11.beta",
                "ups.0.0.weight",
                "decoders.3.1.conv5.bias",
                "ending.bias",
            ],
        ),
        (
            "restormer",
            [
                "patch_embed.proj.weight",
                "encoder_level1.0.norm1.body.bias",
                "encoder_level2.5.attn.temperature",
                "down3_4.body.0.weight",
                "latent.7.ffn.project_out.weight",
                "up4_3.body.0.weight",
                "reduce_chan_level3.weight",
                "decoder_level1.3.attn.qkv_dwconv.weight",
                "refinement.3.norm2.body.weight",
                "output.weight",
            ],
        ),
    ],
)
def test_state_dict_keys_follow_the_official_layout(name: str, keys: list[str]) -> None:
    state = create_model(name).state_dict()
    missing = [k for k in keys if k not in state]
    assert not missing
