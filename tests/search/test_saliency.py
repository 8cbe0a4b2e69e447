"""Per-block saliency: the six zero-cost proxies against hand computations, the β/γ pitfall, the spaces,
protect/restrict and the plot."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import nasbench
from nasbench import ArchitectureError, NasbenchError, SearchSpace
from nasbench.search.saliency import (
    DEFAULT_METRICS,
    SaliencyWarning,
    absolute_weights,
    list_metrics,
    parameter_scores,
    plot_saliency,
    protect,
    register_metric,
    restrict,
    saliency,
    saliency_plot_data,
)
from nasbench.train import builtin_data


@register_metric("test_weight_l1")
def _weight_l1(probe):
    """Σ|θ| per element: a data-free metric registered by the tests."""
    return {name: p.detach().abs() for name, p in probe.parameters().items()}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Two shared cores: OpenMP threads that spin against other processes slow these small nets 10-100×.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def crops32():
    train, _ = builtin_data("denoise", crop=32, length=16, seed=0)
    return train


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _scores_quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SaliencyWarning)
        return saliency(*args, progress=False, **kwargs)


# ---------------------------------------------------------------------- hand computations
class _OneConv(nn.Module):
    """A 1×1 conv at position p0 and a parameter-free p1: L is quadratic in (W, b), so every metric has a
    closed form."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Conv2d(3, 3, 1)
        self.skip = nn.Identity()
        self.position_names = {"body": "p0", "skip": "p1"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(self.body(x))


def _hand(model: _OneConv, pairs: list, batch_size: int) -> dict[str, float]:
    """Closed-form scores of p0 under the L2 loss with numpy (no autograd)."""
    w = model.body.weight.detach().double().numpy()[:, :, 0, 0]
    b = model.body.bias.detach().double().numpy()
    x = np.stack([p[0].double().numpy() for p in pairs])
    y = np.stack([p[1].double().numpy() for p in pairs])
    n, c, h, wd = x.shape
    m = x.size

    def conv(weight, bias, inp):
        return np.einsum("oi,nihw->nohw", weight, inp) + bias[None, :, None, None]

    r = conv(w, b, x) - y
    g_w = 2 / m * np.einsum("nohw,nihw->oi", r, x)  # L = mean over all samples and elements of r²
    g_b = 2 / m * r.sum((0, 2, 3))
    rr = conv(g_w, g_b, x)  # H·g of a quadratic: the gradient with residual g_W·x + g_b
    hg_w, hg_b = 2 / m * np.einsum("nohw,nihw->oi", rr, x), 2 / m * rr.sum((0, 2, 3))
    # Sample k's part of the batch-mean gradient, summed over each output channel's weights and bias.
    per_sample = 2 / (c * h * wd) / batch_size
    s = per_sample * (np.einsum("oi,nohw,nihw->no", w, r, x) + b[None] * r.sum((2, 3)))
    return {
        "grad_norm": float(np.linalg.norm(g_w) + np.linalg.norm(g_b)),
        "snip": float(np.abs(w * g_w).sum() + np.abs(b * g_b).sum()),
        "plain": float((w * g_w).sum() + (b * g_b).sum()),
        "grasp": float(-(w * hg_w).sum() - (b * hg_b).sum()),
        "fisher": float((0.5 * (s**2).mean(0)).sum() * (c + 1)),  # Δ_k broadcast to 3 weights + 1 bias
        "synflow": float(h * wd * (np.abs(w).sum() + np.abs(b).sum())),
    }


def test_every_metric_matches_a_hand_computation_on_a_one_conv_network() -> None:
    torch.manual_seed(0)
    model = _OneConv()
    gen = torch.Generator().manual_seed(1)
    pairs = [(torch.rand(3, 5, 5, generator=gen), torch.rand(3, 5, 5, generator=gen)) for _ in range(6)]
    # batches × batch_size = all six pairs, so the result does not depend on the draw order.
    scores = _scores_quietly(model, pairs, DEFAULT_METRICS, loss="l2", batches=2, batch_size=3)
    expected = _hand(model, pairs, batch_size=3)
    for metric, value in expected.items():
        assert scores.loc["p0", metric] == pytest.approx(value, rel=1e-4), metric
    assert (scores.loc["p1", list(DEFAULT_METRICS)] == 0).all()
    assert list(scores.index) == ["p0", "p1"]
    assert scores.loc["p0", "params"] == 12 and scores.loc["p1", "params"] == 0
    assert scores.loc["p0", "block"] == "Conv2d" and "channels" not in scores


def test_registered_metric_is_summed_per_block(toy_space, toy_data) -> None:
    assert "test_weight_l1" in list_metrics()
    torch.manual_seed(0)
    model = toy_space.build()
    scores = saliency(model, toy_data, ["test_weight_l1"], batch_size=2, skip_init=0.5, progress=False)
    for path, position in model.position_names.items():
        by_hand = sum(p.abs().sum().item() for p in model.get_submodule(path).parameters())
        by_hand += 0.5 * sum(
            p.numel() for n, p in model.get_submodule(path).named_parameters() if n in ("beta", "gamma")
        )
        assert scores.loc[position, "test_weight_l1"] == pytest.approx(by_hand, rel=1e-6)
    with pytest.raises(NasbenchError, match="already registered"):
        register_metric("snip")(_weight_l1)


# ---------------------------------------------------------------------- the β/γ pitfall on nafnet_tiny
@pytest.fixture(scope="module")
def nafnet_tiny():
    torch.manual_seed(0)
    return nasbench.load_space("nafnet_tiny").build()


def test_skip_init_scores_a_copy_and_is_not_degenerate(nafnet_tiny, crops32) -> None:
    before = _state(nafnet_tiny)
    grads = {n: p.requires_grad for n, p in nafnet_tiny.named_parameters()}
    nafnet_tiny.train()
    scores = _scores_quietly(nafnet_tiny, crops32, skip_init=1.0)  # also: no SaliencyWarning
    space = nasbench.load_space("nafnet_tiny")
    assert list(scores.index) == [p.name for p in space.positions]
    assert (scores["channels"] == [p.channels for p in space.positions]).all()
    assert (scores["block"] == "naf").all()
    for metric in DEFAULT_METRICS:
        values = scores[metric].to_numpy()
        assert np.isfinite(values).all() and (values != 0).all(), metric
        key = scores[metric].abs() if metric in ("plain", "grasp") else scores[metric]
        assert (scores[f"rank_{metric}"] == key.rank(ascending=False, method="min")).all(), metric
    assert scores["aggregate"].to_numpy() == pytest.approx(scores[[f"rank_{m}" for m in DEFAULT_METRICS]].mean(axis=1))
    for path, position in nafnet_tiny.position_names.items():
        assert scores.loc[position, "params"] == sum(p.numel() for p in nafnet_tiny.get_submodule(path).parameters())
    # The caller's network is untouched: weights bitwise, β/γ still zero, mode and grad flags kept.
    after = _state(nafnet_tiny)
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert not nafnet_tiny.encoders[0][0].beta.any()
    assert nafnet_tiny.training
    assert grads == {n: p.requires_grad for n, p in nafnet_tiny.named_parameters()}


def test_default_init_nafnet_is_degenerate_and_warns(nafnet_tiny, crops32) -> None:
    with pytest.warns(SaliencyWarning, match=r"β/γ .*all zero.*skip_init=1\.0") as record:
        scores = saliency(nafnet_tiny, crops32, progress=False)
    assert "snip, fisher, plain, synflow score is exactly 0" in str(record[0].message)
    for metric in ("snip", "fisher", "plain", "synflow"):
        assert (scores[metric] == 0).all(), metric
    # grad_norm and grasp are non-zero only through β/γ: every other in-block gradient is exactly zero.
    per_param = parameter_scores(nafnet_tiny, crops32, "grad_norm")
    in_blocks = {n: s for n, s in per_param.items() if n.split(".")[0] in ("encoders", "middle_blks", "decoders")}
    assert all(s == 0 for n, s in in_blocks.items() if n.rsplit(".", 1)[-1] not in ("beta", "gamma"))
    assert all(s > 0 for n, s in in_blocks.items() if n.rsplit(".", 1)[-1] in ("beta", "gamma"))
    assert per_param["intro.weight"] > 0


# ---------------------------------------------------------------------- synflow
def test_absolute_weights_restores_every_sign_exactly(perturb) -> None:
    torch.manual_seed(0)
    space = nasbench.load_space("nafnet_tiny")
    model = perturb(space.build(space.from_indices([1] * len(space.positions))))  # naf_bn: BN buffers too
    before = _state(model)
    assert any((v < 0).any() for v in before.values() if v.is_floating_point())
    with absolute_weights(model):
        assert all((v >= 0).all() for v in model.state_dict().values() if v.is_floating_point())
    after = _state(model)
    assert all(torch.equal(before[k], after[k]) for k in before)


# ---------------------------------------------------------------------- the other spaces
def test_restormer_and_ssm_blocks_score_every_parameter(crops32) -> None:
    space = nasbench.load_space("restormer_tiny")
    torch.manual_seed(0)
    model = space.build(
        "enc1:ssm enc2:restormer enc3:ssm latent:restormer,ssm dec3:ssm dec2:restormer dec1:ssm refine:ssm"
    )
    scores = _scores_quietly(model, crops32, batch_size=2)
    assert list(scores["block"]) == ["ssm", "restormer", "ssm", "restormer", "ssm", "ssm", "restormer", "ssm", "ssm"]
    for metric in DEFAULT_METRICS:  # synflow ran in float64 through the scan and the attention
        assert np.isfinite(scores[metric]).all() and (scores[metric] != 0).all(), metric
    snip = parameter_scores(model, crops32, "snip", batch_size=2)
    for name in ("temperature", "A_log", "D", "dt_bias", "norm1.body.weight", "norm1.weight"):
        found = [s for n, s in snip.items() if n.endswith(name)]
        assert found and all(s.sum() > 0 for s in found), name


def test_lite_denoise_identity_positions_score_zero_and_the_clamp_stops_synflow(crops32) -> None:
    space = nasbench.load_space("lite_denoise")
    torch.manual_seed(0)
    with pytest.warns(SaliencyWarning, match="clamp"):
        scores = saliency(space.build(), crops32, ("snip", "synflow"), batch_size=2, progress=False)
    identity = scores["block"] == "identity"
    assert identity.sum() == 9 and (scores.loc[identity, ["params", "snip"]] == 0).all().all()
    assert (scores.loc[~identity, "snip"] > 0).all()
    assert (scores["synflow"] == 0).all()
    spec = space.to_dict()
    spec["backbone"]["clamp"] = False
    torch.manual_seed(0)
    unclamped = _scores_quietly(SearchSpace.from_dict(spec).build(), crops32, ("synflow",), batch_size=2)
    assert (unclamped.loc[~identity, "synflow"] > 0).all()


def test_a_space_scores_its_seeded_untrained_baseline_with_a_warning(toy_space, toy_data) -> None:
    with pytest.warns(SaliencyWarning, match="untrained baseline"):
        first = saliency(toy_space, toy_data, ("snip",), batch_size=2, skip_init=1.0, progress=False)
    with pytest.warns(SaliencyWarning, match="untrained baseline"):
        again = saliency(toy_space, toy_data, ("snip",), batch_size=2, skip_init=1.0, progress=False)
    assert first.equals(again)
    assert list(first.index) == [p.name for p in toy_space.positions]


def test_progress_bar_runs_over_metrics(toy_space, toy_data, capsys) -> None:
    torch.manual_seed(0)
    saliency(toy_space.build(), toy_data, ("snip", "plain"), batch_size=2, skip_init=1.0, progress=True)
    assert "saliency" in capsys.readouterr().err


# ---------------------------------------------------------------------- errors
def test_bad_inputs_raise_clear_errors(toy_space, toy_data) -> None:
    torch.manual_seed(0)
    model = toy_space.build()
    with pytest.raises(NasbenchError, match=r"unknown saliency metric 'snipp' \(known: .*snip.*did you mean 'snip'"):
        saliency(model, toy_data, ("snipp",), progress=False)
    with pytest.raises(NasbenchError, match="data is empty"):
        saliency(model, [], progress=False)
    with pytest.raises(NasbenchError, match=r"unknown loss 'l3' \(known: .*l1.*psnr"):
        saliency(model, toy_data, loss="l3", progress=False)
    with pytest.raises(NasbenchError, match="batch_size must be a positive integer"):
        saliency(model, toy_data, batch_size=0, progress=False)
    with pytest.raises(NasbenchError, match="differ in shape"):
        saliency(model, [(torch.rand(3, 8, 8),) * 2, (torch.rand(3, 16, 16),) * 2], batch_size=2, progress=False)
    with pytest.raises(NasbenchError, match="no `position_names`"):
        saliency(nn.Conv2d(3, 3, 1), toy_data, progress=False)
    with pytest.raises(NasbenchError, match="skip_init=0"):
        saliency(model, toy_data, skip_init=0.0, progress=False)


# ---------------------------------------------------------------------- protect, restrict, plot
@pytest.fixture(scope="module")
def toy_scores(toy_space, toy_data):
    torch.manual_seed(0)
    return _scores_quietly(toy_space.build(), toy_data, ("grad_norm", "snip", "plain"), batch_size=2, skip_init=1.0)


def test_protect_takes_the_best_ranks(toy_scores) -> None:
    by_mean = toy_scores["aggregate"].sort_values(kind="stable").index
    assert protect(toy_scores) == [by_mean[0]]
    assert protect(toy_scores, 3) == list(by_mean)
    assert protect(toy_scores, 0) == []
    assert protect(toy_scores, 1, metric="plain") == [toy_scores["plain"].abs().idxmax()]
    assert protect(toy_scores, 1, metric="snip") == [toy_scores["snip"].idxmax()]
    with pytest.raises(NasbenchError, match=r"unknown metric 'fisher' \(known: aggregate, grad_norm, snip, plain\)"):
        protect(toy_scores, metric="fisher")
    for k in (-1, 4, True, 1.0):
        with pytest.raises(NasbenchError, match=r"k must be an integer in 0\.\.3"):
            protect(toy_scores, k)


def test_restrict_keeps_the_original_block_and_round_trips(tmp_path) -> None:
    space = nasbench.load_space("restormer_tiny")  # stage options (heads) and space block_options (ssm)
    restricted = restrict(space, ["enc2.0", "latent.1"])
    assert restricted.name == "restormer_tiny_protected"
    for before, after in zip(space.positions, restricted.positions):
        kept = (before.candidates[0],) if before.name in ("enc2.0", "latent.1") else before.candidates
        assert after.candidates == kept, before.name
    path = tmp_path / "restricted.yaml"
    restricted.to_yaml(path)
    assert SearchSpace.from_yaml(path) == restricted
    lite = nasbench.load_space("lite_denoise")  # a position override whose first candidate is identity
    assert restrict(lite, "enc1.1").position("enc1.1").labels == ("identity",)
    with pytest.raises(ArchitectureError, match=r"no position 'enc9\.0' \(known: enc1\.0, .*did you mean"):
        restrict(space, ["enc9.0"])


def test_plot_highlights_the_protected_positions(toy_scores, tmp_path) -> None:
    data = saliency_plot_data(toy_scores, 2)
    assert list(data["panels"]) == ["grad_norm", "snip", "plain", "aggregate"]
    assert [p for p, flag in zip(data["positions"], data["protected"]) if flag] == sorted(
        protect(toy_scores, 2), key=data["positions"].index
    )
    path = plot_saliency(toy_scores, tmp_path / "plots" / "saliency.png", protected=["middle.0"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(NasbenchError, match="unknown position 'nope'"):
        plot_saliency(toy_scores, tmp_path / "x.png", protected=["nope"])
