"""Entropy-regularised DARTS on a toy problem: gradients, entropy, latency pressure, resume, NaN."""

from __future__ import annotations

import pytest
import torch

import nasbench
from nasbench.search import DartsConfig, LatencyCost, SearchResult, darts
from nasbench.train import TrainingError

FAST = {"steps": 24, "warmup_steps": 4, "batch_size": 2, "alpha_lr": 0.05, "checkpoint_every": 8, "progress": False}


def _final_entropy(result: SearchResult) -> float:
    return result.history[-1]["mean_entropy"]


def test_alpha_gets_gradients(toy_space) -> None:
    supernet = toy_space.supernet()
    supernet(torch.rand(2, 3, 16, 16)).square().mean().backward()
    for alpha in supernet.arch_parameters():
        assert alpha.grad is not None and alpha.grad.abs().sum() > 0


def test_sampled_mode_draws_one_path_reproducibly(toy_space) -> None:
    supernet = toy_space.supernet(mode="sampled")
    x = torch.rand(1, 3, 16, 16)
    supernet.set_step(5, seed=3)
    supernet(x)
    first = [m.last_sample for m in supernet.mixed_blocks()]
    supernet.set_step(5, seed=3)
    supernet(x)
    assert [m.last_sample for m in supernet.mixed_blocks()] == first
    assert all(len(s) == 1 for s in first)


def test_large_entropy_weight_makes_decisions(toy_space, toy_data, toy_table) -> None:
    fast = {**FAST, "alpha_lr": 0.3}
    decisive = darts(toy_space, toy_data, toy_table, mu=0.0, lambda_start=5.0, lambda_end=5.0, **fast)
    undecided = darts(toy_space, toy_data, toy_table, mu=0.0, lambda_start=1e-9, lambda_end=1e-9, **fast)
    assert _final_entropy(decisive) < 0.1
    assert _final_entropy(undecided) > 0.5


def test_larger_latency_weight_gives_faster_architectures(toy_space, toy_data, toy_table) -> None:
    latencies = []
    for mu in (0.0, 0.01, 0.1, 1.0):
        result = darts(toy_space, toy_data, toy_table, mu=mu, lambda_start=1e-3, lambda_end=1e-3, **FAST)
        latencies.append(result.history[-1]["predicted_latency_ms"])
    assert latencies == sorted(latencies, reverse=True) and latencies[0] > latencies[-1]


def test_history_and_result_files(toy_space, toy_data, toy_table, tmp_path) -> None:
    result = darts(toy_space, toy_data, toy_table, **FAST)
    row = result.history[-1]
    for key in ("weight_loss", "arch_loss", "total_loss", "entropy_weight", "predicted_latency_ms", "mean_entropy"):
        assert key in row
    assert sum(row[f"p/enc1.0/{lab}"] for lab in ("naf", "conv_bn_relu", "identity")) == pytest.approx(1.0)
    assert len(result.history) == FAST["steps"]
    assert result.history[0]["entropy_weight"] == 0.0  # warm-up trains the weights only
    result.save(tmp_path)
    for name in ("architecture.txt", "architecture.json", "history.csv", "alpha.png", "entropy_latency.png"):
        assert (tmp_path / name).exists(), name
    again = SearchResult.load(tmp_path)
    assert again.architecture == result.architecture and len(again.history) == len(result.history)


def test_resume_continues_identically(toy_space, toy_data, toy_table, tmp_path) -> None:
    full = darts(toy_space, toy_data, toy_table, output=tmp_path / "full", **FAST)

    class Crash(Exception):
        pass

    def crash_at_step_18(row: dict) -> None:
        if row["step"] == 18:  # after the checkpoint of step 16, two steps into the next interval
            raise Crash

    stopped = tmp_path / "stopped"
    with pytest.raises(Crash):
        darts(toy_space, toy_data, toy_table, output=stopped, callback=crash_at_step_18, **FAST)
    kept = (stopped / "darts-checkpoint.pt").read_bytes()
    with pytest.raises(TrainingError, match="a search checkpoint exists; pass resume=True"):
        darts(toy_space, toy_data, toy_table, output=stopped, **FAST)  # a fresh start would overwrite it
    assert (stopped / "darts-checkpoint.pt").read_bytes() == kept
    resumed = darts(toy_space, toy_data, toy_table, output=stopped, resume=True, **FAST)
    assert resumed.history == full.history
    assert resumed.architecture == full.architecture


def test_nan_loss_stops_with_step_and_keeps_checkpoint(toy_space, toy_data, toy_table, tmp_path) -> None:
    class Poisoned(torch.utils.data.Dataset):
        """Clean data until ``armed``, then NaN inputs."""

        armed = False

        def __len__(self) -> int:
            return len(toy_data)

        def __getitem__(self, i: int):
            x, y = toy_data[i]
            return (x * float("nan") if self.armed else x), y

    poisoned = Poisoned()

    def arm_after_step_9(row: dict) -> None:
        poisoned.armed = row["step"] >= 9

    with pytest.raises(
        TrainingError, match=r"darts step 10: the weight loss is not finite; last good checkpoint: .* \(step 8\)"
    ):
        darts(toy_space, (poisoned, toy_data), toy_table, output=tmp_path, callback=arm_after_step_9, **FAST)
    state = torch.load(tmp_path / "darts-checkpoint.pt", weights_only=True)
    assert state["step"] == 8


def test_config_errors(toy_space, toy_data, toy_table) -> None:
    with pytest.raises(nasbench.NasbenchError, match="warmup_steps must be in"):
        DartsConfig(steps=10, warmup_steps=10)
    with pytest.raises(nasbench.NasbenchError, match="lambda_start and lambda_end must be > 0"):
        DartsConfig(lambda_start=0.0)


def test_latency_cost_matches_table(toy_space, toy_table) -> None:
    cost = LatencyCost(toy_space, toy_table)
    supernet = toy_space.supernet()
    with torch.no_grad():
        for m in supernet.mixed_blocks():
            m.alpha.copy_(torch.tensor([-50.0, 50.0, -50.0]))  # all conv_bn_relu
    arch = toy_space.architecture({p.name: "conv_bn_relu" for p in toy_space.positions})
    assert float(cost.expected_ms(supernet.probabilities())) == pytest.approx(
        toy_table.predict(toy_space, arch), rel=1e-5
    )
    assert cost.baseline_ms == pytest.approx(toy_table.predict(toy_space, toy_space.baseline()))
