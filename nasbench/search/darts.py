"""Entropy-regularised differentiable architecture search (the ERN-Net method).

First-order bilevel optimisation of a :class:`~nasbench.supernet.Supernet`:

- **weight step** on a batch of the training split: task loss only (AdamW);
- **α step** on a batch of the held-out split (Adam):
  ``task + μ · E_p[latency] / latency(baseline) + λ(t) · Σ_positions H(p) / log K``,
  where ``E_p[latency]`` is the table-predicted latency with every searchable position's candidate
  latencies weighted by p = softmax(α / T), and λ grows exponentially from λ0 to λ1.

The first ``warmup_steps`` train the weights alone. Afterwards every step does one weight step and one α
step. Under ``torchrun`` the same function runs data-parallel (gloo on CPU): α lives inside the
DDP-wrapped supernet, so its gradients are averaged with the weights' and every rank holds the same α;
in ``sampled`` mode the Gumbel draw is seeded by (seed, step, position), so every rank draws the same path.

Defaults where the paper is silent are our choices (docs/darts.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.utils import clip_grads_with_norm_, get_total_norm
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from nasbench.errors import NasbenchError
from nasbench.latency import LatencyTable, block_key, skeleton_key
from nasbench.search.result import SearchResult
from nasbench.space import SearchSpace
from nasbench.supernet import Supernet
from nasbench.train.checkpoint import load_checkpoint, save_checkpoint
from nasbench.train.errors import TrainingError
from nasbench.train.loop import get_loss

CHECKPOINT = "darts-checkpoint.pt"


@dataclass(frozen=True)
class DartsConfig:
    """Search settings. Defaults are our choices (the ERN-Net paper does not publish its own)."""

    steps: int = 1000
    warmup_steps: int = 200
    batch_size: int = 8
    loss: str = "l1"
    weight_lr: float = 1e-3
    weight_decay: float = 0.0
    alpha_lr: float = 3e-3
    alpha_weight_decay: float = 1e-3
    mu: float = 0.5
    lambda_start: float = 1e-3
    lambda_end: float = 0.2
    mode: Literal["all", "sampled"] = "all"
    paths: int = 1
    temperature: float = 1.0
    grad_clip: float | None = 1.0
    seed: int = 0
    checkpoint_every: int = 50

    def __post_init__(self) -> None:
        if not 0 <= self.warmup_steps < self.steps:
            raise NasbenchError(f"darts: warmup_steps must be in [0, steps), got {self.warmup_steps} of {self.steps}")
        if self.lambda_start <= 0 or self.lambda_end <= 0:
            raise NasbenchError("darts: lambda_start and lambda_end must be > 0 (the schedule is exponential)")
        if self.mu < 0 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise NasbenchError("darts: mu must be ≥ 0, batch_size and checkpoint_every ≥ 1")

    def entropy_weight(self, step: int) -> float:
        """λ(t): exponential from ``lambda_start`` (end of warm-up) to ``lambda_end`` (last step)."""
        if step < self.warmup_steps:
            return 0.0
        t = (step - self.warmup_steps) / max(1, self.steps - 1 - self.warmup_steps)
        return self.lambda_start * (self.lambda_end / self.lambda_start) ** t


class LatencyCost:
    """Table latencies arranged for the supernet: a vector per searchable position plus a constant."""

    def __init__(self, space: SearchSpace, table: LatencyTable, input_size: Sequence[int] | None = None) -> None:
        h, w = table.resolve_size(input_size)
        missing = table.missing(space, (h, w))
        if missing:
            raise NasbenchError(
                f"{table.source or 'latency table'}: lacks {len(missing)} entries for space {space.name!r} at "
                f"{h}×{w}, e.g. {missing[0]}"
            )
        self.constant = table.skeletons[skeleton_key(space, h, w)].median_ms
        self.vectors: dict[str, torch.Tensor] = {}
        for p in space.positions:
            values = [table.blocks[block_key(space, p.name, lab, h, w)].median_ms for lab in p.labels]
            if p.searchable:
                self.vectors[p.name] = torch.tensor(values, dtype=torch.float32)
            else:
                self.constant += values[0]
        self.baseline_ms = table.predict(space, space.baseline(), (h, w))

    def expected_ms(self, probabilities: dict[str, torch.Tensor]) -> torch.Tensor:
        """Σ_positions Σ_k p_k · latency_k + the fixed parts, in ms (differentiable in p)."""
        total = sum((probabilities[name] * vec).sum() for name, vec in self.vectors.items())
        return total + self.constant  # type: ignore[return-value]


def _batch(dataset: Dataset, seed: int, step: int, stream: int, rank: int, size: int) -> tuple[torch.Tensor, ...]:
    """A batch drawn from (seed, step, stream, rank): reproducible after a resume, different per rank."""
    rng = np.random.default_rng([seed, step, stream, rank])
    items = [dataset[int(i)] for i in rng.integers(0, len(dataset), size)]  # type: ignore[arg-type]
    return tuple(torch.stack(parts) for parts in zip(*items))


class _Split(Dataset):
    """Every other item of a dataset: the deterministic train / held-out split of one dataset."""

    def __init__(self, dataset: Dataset, parity: int) -> None:
        self.dataset, self.parity = dataset, parity

    def __len__(self) -> int:
        return (len(self.dataset) - self.parity + 1) // 2  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> Any:
        return self.dataset[2 * i + self.parity]


def _distributed() -> tuple[int, int]:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def darts(
    space: SearchSpace,
    data: Dataset | tuple[Dataset, Dataset],
    latency_table: LatencyTable,
    *,
    config: DartsConfig | None = None,
    input_size: Sequence[int] | None = None,
    output: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    callback: Callable[[dict[str, Any]], None] | None = None,
    **overrides: Any,
) -> SearchResult:
    """Search ``space`` with entropy-regularised DARTS; return the argmax architecture and the history.

    ``data`` is a dataset of (degraded, clean) N×C×H×W-ready pairs — split into even items for the
    weights and odd items for α — or an explicit ``(train, held_out)`` pair. ``latency_table`` must cover
    the space at ``input_size`` (default: the table's). Settings come from ``config`` with keyword
    overrides (``steps=300, mu=1.0``). With ``output`` a checkpoint is written every
    ``checkpoint_every`` steps (atomically) and ``resume=True`` continues from it (with the same settings);
    without ``resume`` an existing checkpoint is refused rather than overwritten; a NaN/Inf loss or gradient
    stops the search with :class:`~nasbench.train.errors.TrainingError`,
    keeping the last good checkpoint.
    """
    cfg = replace(config or DartsConfig(), **overrides)
    rank, world = _distributed()
    train_data, arch_data = data if isinstance(data, tuple) else (_Split(data, 0), _Split(data, 1))
    cost = LatencyCost(space, latency_table, input_size)
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    supernet = Supernet(space, mode=cfg.mode, paths=cfg.paths, temperature=cfg.temperature)
    model: nn.Module = supernet
    if world > 1:
        model = nn.parallel.DistributedDataParallel(supernet, find_unused_parameters=cfg.mode == "sampled")
    loss_fn = get_loss(cfg.loss)
    opt_w = torch.optim.AdamW(supernet.weight_parameters(), lr=cfg.weight_lr, weight_decay=cfg.weight_decay)
    opt_a = torch.optim.Adam(
        supernet.arch_parameters(), lr=cfg.alpha_lr, betas=(0.5, 0.999), weight_decay=cfg.alpha_weight_decay
    )
    sched_w = torch.optim.lr_scheduler.CosineAnnealingLR(opt_w, T_max=cfg.steps, eta_min=cfg.weight_lr * 1e-3)
    history: list[dict[str, Any]] = []
    start = 0
    ckpt = Path(output) / CHECKPOINT if output else None
    if not resume and ckpt is not None and ckpt.exists():  # a fresh start would overwrite an earlier search
        raise TrainingError(
            f"{ckpt}: a search checkpoint exists; pass resume=True (CLI: --resume) to continue it, "
            "or choose another output directory"
        )
    if resume and ckpt is not None and ckpt.exists():
        state = load_checkpoint(ckpt)
        for key, value in asdict(cfg).items():
            if state["config"].get(key) != value:
                raise TrainingError(
                    f"{ckpt}: resume: the checkpoint has {key}={state['config'].get(key)!r} but this call "
                    f"{key}={value!r}; resuming is exact only with the same settings"
                )
        supernet.load_state_dict(state["supernet"])
        opt_w.load_state_dict(state["opt_w"])
        opt_a.load_state_dict(state["opt_a"])
        sched_w.load_state_dict(state["sched_w"])
        history, start = list(state["history"]), int(state["step"])

    def save(step: int) -> None:
        if rank == 0 and ckpt is not None:
            state = {
                "supernet": supernet.state_dict(),
                "opt_w": opt_w.state_dict(),
                "opt_a": opt_a.state_dict(),
                "sched_w": sched_w.state_dict(),
                "step": step,
                "history": history,
                "config": asdict(cfg),
            }
            save_checkpoint(ckpt, state)
        if world > 1:
            dist.barrier()

    def finite(value: torch.Tensor) -> bool:
        flag = torch.tensor([0.0 if torch.isfinite(value).all() else 1.0])
        if world > 1:
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return flag.item() == 0.0

    def fail(step: int, what: str) -> TrainingError:
        kept = (
            f"last good checkpoint: {ckpt} (step {start_of_checkpoint})"
            if ckpt and ckpt.exists()
            else "no checkpoint kept"
        )
        return TrainingError(f"darts step {step}: {what} is not finite; {kept}")

    start_of_checkpoint = start
    bar = tqdm(total=cfg.steps, initial=start, desc="darts", unit="step", disable=not progress or rank != 0)
    for step in range(start, cfg.steps):
        supernet.train()
        supernet.set_step(step, cfg.seed)
        x, y = _batch(train_data, cfg.seed, step, 0, rank, cfg.batch_size)
        task_w = loss_fn(model(x), y)
        if not finite(task_w):
            raise fail(step, "the weight loss")
        opt_w.zero_grad(set_to_none=True)
        opt_a.zero_grad(set_to_none=True)
        task_w.backward()
        weights = supernet.weight_parameters()
        norm = get_total_norm([p.grad for p in weights if p.grad is not None])
        if not finite(norm):
            raise fail(step, "the weight gradient")
        if cfg.grad_clip:
            clip_grads_with_norm_(weights, cfg.grad_clip, norm)
        opt_w.step()
        sched_w.step()
        row: dict[str, Any] = {"step": step, "weight_loss": task_w.item(), "lr": sched_w.get_last_lr()[0]}
        lam = cfg.entropy_weight(step)
        if step >= cfg.warmup_steps:
            xa, ya = _batch(arch_data, cfg.seed, step, 1, rank, cfg.batch_size)
            task_a = loss_fn(model(xa), ya)
            probs = supernet.probabilities()
            expected = cost.expected_ms(probs)
            entropy = supernet.entropy()
            entropy_sum = torch.stack(list(entropy.values())).sum() if entropy else torch.zeros(())
            total = task_a + cfg.mu * expected / cost.baseline_ms + lam * entropy_sum
            if not finite(total):
                raise fail(step, "the architecture loss")
            opt_w.zero_grad(set_to_none=True)
            opt_a.zero_grad(set_to_none=True)
            total.backward()
            if not finite(get_total_norm([a.grad for a in supernet.arch_parameters() if a.grad is not None])):
                raise fail(step, "the architecture gradient")
            opt_a.step()
            row.update(arch_loss=task_a.item(), total_loss=total.item())
        with torch.no_grad():
            probs = supernet.probabilities()
            entropy = {k: float(v) for k, v in supernet.entropy().items()}
            row.update(
                entropy_weight=lam,
                predicted_latency_ms=float(cost.expected_ms(probs)),
                derived_latency_ms=latency_table.predict(space, supernet.derive(), input_size),
                mean_entropy=float(np.mean(list(entropy.values()))) if entropy else 0.0,
            )
            for name, p in probs.items():
                row[f"entropy/{name}"] = entropy[name]
                for label, value in zip(space.position(name).labels, p.tolist()):
                    row[f"p/{name}/{label}"] = value
        history.append(row)
        if callback is not None and rank == 0:
            callback(row)
        bar.update(1)
        bar.set_postfix(
            loss=f"{row['weight_loss']:.4f}", lat=f"{row['predicted_latency_ms']:.1f}ms", H=f"{row['mean_entropy']:.2f}"
        )
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            save(step + 1)
            start_of_checkpoint = step + 1
    bar.close()
    arch = supernet.derive()
    settings = {
        **asdict(cfg),
        "input_size": list(latency_table.resolve_size(input_size)),
        "world_size": world,
        "baseline_predicted_ms": cost.baseline_ms,
        "latency_table": latency_table.metadata.get("device"),
    }
    return SearchResult(space, arch, "darts", history, None, settings)
