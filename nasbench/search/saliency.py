"""Per-block saliency: zero-cost proxies summed over the parameters of each search position.

``saliency(model, data)`` scores every position of a network built by ``SearchSpace.build`` with the six
zero-cost proxies of SamsungLabs' zero-cost-nas (``grad_norm``, ``snip``, ``grasp``, ``fisher``,
``plain``, ``synflow``): a score per parameter element (per tensor for ``grad_norm``), summed over the
parameters whose module path lies under the position's block. With θ a parameter, L the restoration loss
of the network's output against the **clean** image (mean over the batch) and g = ∂L/∂θ:

=============  ===================================================================================
metric         per-parameter score
=============  ===================================================================================
``grad_norm``  ‖g‖₂ of each parameter tensor (a block sums the norms of its tensors)
``snip``       \\|θ ⊙ g\\| (= \\|∂L/∂c\\| of a multiplicative mask c = 1, as SNIP's mask trick)
``grasp``      −θ ⊙ (H g), H the Hessian of L over all parameters (two passes, double backward)
``fisher``     ½ · mean_n (Σ_group θ ⊙ g_n)², broadcast to the group's elements; g_n is sample n's part
               of g; a group is one output channel (weight and bias) of a conv, linear or norm layer —
               the reference's activation × gradient per conv output channel — else a single element
``plain``      θ ⊙ g (signed)
``synflow``    \\|θ ⊙ ∂R/∂θ\\| with R = Σ net(𝟙): float64, every floating state-dict entry replaced
               by its absolute value (signs restored afterwards), BatchNorm removed, one all-ones input
=============  ===================================================================================

Unlike the reference, which scores only Conv2d/Linear weights, *every* parameter is scored: biases,
norm weights, NAFNet's β/γ, Restormer's temperature, the SSM's A_log/D/dt_bias — with the same formula.
The network is scored in eval mode (BatchNorm uses its running statistics, dropout is off), so samples
are independent and ``fisher``'s per-sample terms are well defined. More batches average the gradients.

NAFNet's β = γ = 0 at default init makes every NAF block the identity and every score inside it zero;
``skip_init`` scores a copy with those parameters set to a non-zero value. docs/saliency.md has the
details, the ranking conventions and an example.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from nasbench.blocks.registry import block_info, list_blocks
from nasbench.errors import ArchitectureError, NasbenchError, known, suggest
from nasbench.registry import Registry
from nasbench.space import Backbone, SearchSpace
from nasbench.train.loop import Loss, get_loss, list_losses

DEFAULT_METRICS = ("grad_norm", "snip", "grasp", "fisher", "plain", "synflow")
AGGREGATE = "aggregate"
RANK_PREFIX = "rank_"
SKIP_PARAMETERS = ("beta", "gamma")


class SaliencyWarning(UserWarning):
    """Scores that cannot rank the positions: exactly zero, non-finite, or from an untrained network."""


@dataclass(frozen=True)
class Probe:
    """What a metric scores.

    ``model`` is a private copy of the network (eval mode, every parameter requires grad) that the metric
    may change freely; ``batches`` are (degraded, clean) N×C×H×W pairs; ``loss`` maps (prediction, clean)
    to a scalar that is a mean over the batch.
    """

    model: nn.Module
    batches: tuple[tuple[torch.Tensor, torch.Tensor], ...]
    loss: Loss

    def parameters(self) -> dict[str, nn.Parameter]:
        return dict(self.model.named_parameters())

    def mean_gradient(self) -> dict[str, torch.Tensor]:
        """g = ∂L/∂θ for every parameter, averaged over the batches (zeros where θ is unused)."""
        params = self.parameters()
        total = {name: torch.zeros_like(p) for name, p in params.items()}
        for x, y in self.batches:
            grads = _grad(self.loss(self.model(x), y), params.values())
            for name, g in zip(params, grads):
                total[name] += g / len(self.batches)
        return total


ScoreFn = Callable[[Probe], Mapping[str, torch.Tensor]]


@dataclass(frozen=True)
class Metric:
    """A registered metric: ``fn`` returns per-parameter score tensors keyed by parameter name;
    ``absolute`` ranks positions by \\|score\\| (the sign is a direction, not an importance)."""

    name: str
    fn: ScoreFn
    absolute: bool = False


_METRICS: Registry[Metric] = Registry("saliency metric")


def register_metric(name: str, *, absolute: bool = False) -> Callable[[ScoreFn], ScoreFn]:
    """Decorator: register ``fn(probe) -> {parameter name: score tensor}`` as metric ``name``.

    A position's score is the sum of every element of its parameters' tensors (parameters missing from
    the mapping count 0). Ranks put the largest score first, or the largest \\|score\\| with ``absolute``.
    """

    def decorate(fn: ScoreFn) -> ScoreFn:
        _METRICS.register(name)(Metric(name, fn, absolute))
        return fn

    return decorate


def list_metrics() -> list[str]:
    return _METRICS.names()


def _grad(value: torch.Tensor, params: Iterable[torch.Tensor], create_graph: bool = False) -> list[torch.Tensor]:
    params = list(params)
    if not value.requires_grad:
        return [torch.zeros_like(p) for p in params]
    return list(
        torch.autograd.grad(value, params, create_graph=create_graph, allow_unused=True, materialize_grads=True)
    )


# ---------------------------------------------------------------------- the six built-in metrics
@register_metric("grad_norm")
def grad_norm(probe: Probe) -> dict[str, torch.Tensor]:
    """‖∂L/∂θ‖₂ per parameter tensor."""
    return {name: g.norm() for name, g in probe.mean_gradient().items()}


@register_metric("snip")
def snip(probe: Probe) -> dict[str, torch.Tensor]:
    """\\|θ ⊙ ∂L/∂θ\\| per element (SNIP's connection sensitivity)."""
    params = probe.parameters()
    return {name: (params[name].detach() * g).abs() for name, g in probe.mean_gradient().items()}


@register_metric("plain", absolute=True)
def plain(probe: Probe) -> dict[str, torch.Tensor]:
    """θ ⊙ ∂L/∂θ per element, signed: first-order change of L when θ is scaled."""
    params = probe.parameters()
    return {name: params[name].detach() * g for name, g in probe.mean_gradient().items()}


@register_metric("grasp", absolute=True)
def grasp(probe: Probe) -> dict[str, torch.Tensor]:
    """−θ ⊙ (H g) per element: g from a first pass, then H·g as the gradient of g·∂L/∂θ (double backward)."""
    params = probe.parameters()
    g = probe.mean_gradient()
    hg = {name: torch.zeros_like(p) for name, p in params.items()}
    for x, y in probe.batches:
        g_graph = _grad(probe.loss(probe.model(x), y), params.values(), create_graph=True)
        z = sum((g[name] * gi).sum() for name, gi in zip(params, g_graph))
        for name, h in zip(params, _grad(torch.as_tensor(z), params.values())):
            hg[name] += h / len(probe.batches)
    return {name: -p.detach() * hg[name] for name, p in params.items()}


def channel_groups(model: nn.Module) -> list[list[str]]:
    """Parameter names whose dim-0 slices form Fisher groups together: ``weight`` (and ``bias``) of every
    non-transposed conv, linear layer and 1-D affine (norm) layer — slice k is output channel k."""
    groups = []
    for prefix, module in model.named_modules():
        own = dict(module.named_parameters(recurse=False))
        weight, bias = own.get("weight"), own.get("bias")
        if weight is None:
            continue
        channel_wise = isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.Linear) or weight.dim() == 1
        if not channel_wise or (bias is not None and bias.shape[0] != weight.shape[0]):
            continue
        groups.append([f"{prefix}.{key}" if prefix else key for key in ("weight", "bias") if key in own])
    return groups


@register_metric("fisher")
def fisher(probe: Probe) -> dict[str, torch.Tensor]:
    """½ · mean_n (Σ_group θ ⊙ g_n)², broadcast to the group (see :func:`channel_groups`).

    For a conv output channel k the group sum Σ θ ⊙ g_n equals Σ_hw a_{n,k} · ∂L/∂a_{n,k} (a the conv
    output), so this is the reference's per-channel Fisher; other parameters form one group per element.
    g_n is sample n's part of ∂L/∂θ (eval mode keeps samples independent; L must be a batch mean).
    """
    params = probe.parameters()
    groups = channel_groups(probe.model)
    single = [name for name in params if not any(name in group for group in groups)]
    total = {name: torch.zeros_like(p) for name, p in params.items()}
    samples = 0
    for x, y in probe.batches:
        for i in range(x.shape[0]):
            loss = probe.loss(probe.model(x[i : i + 1]), y[i : i + 1]) / x.shape[0]
            contrib = {name: p.detach() * g for (name, p), g in zip(params.items(), _grad(loss, params.values()))}
            for group in groups:
                per_channel = sum(contrib[name].reshape(contrib[name].shape[0], -1).sum(1) for name in group)
                delta = 0.5 * torch.as_tensor(per_channel).square()
                for name in group:
                    total[name] += delta.reshape(-1, *[1] * (total[name].dim() - 1))
            for name in single:
                total[name] += 0.5 * contrib[name].square()
            samples += 1
    return {name: t / samples for name, t in total.items()}


@contextmanager
def absolute_weights(model: nn.Module) -> Iterator[None]:
    """SynFlow's linearisation: every floating state-dict entry (parameters and buffers) becomes its
    absolute value in place; the signs are restored on exit, leaving the values exactly as before."""
    entries = {name: t for name, t in model.state_dict(keep_vars=True).items() if t.is_floating_point()}
    with torch.no_grad():
        signs = {name: t.sign() for name, t in entries.items()}
        for t in entries.values():
            t.abs_()
    try:
        yield
    finally:
        with torch.no_grad():
            for name, t in entries.items():
                t.mul_(signs[name])


def _remove_batchnorm(model: nn.Module) -> None:
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, child_name, nn.Identity())


@register_metric("synflow")
def synflow(probe: Probe) -> dict[str, torch.Tensor]:
    """\\|θ ⊙ ∂R/∂θ\\| with R = Σ net(𝟙) on \\|weights\\|, float64, BatchNorm removed; no data, no loss."""
    model = probe.model
    _remove_batchnorm(model)
    model.double()
    params = probe.parameters()
    x = probe.batches[0][0]
    ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64, device=x.device)
    with absolute_weights(model):
        grads = _grad(model(ones).sum(), params.values())
        return {name: (p.detach() * g).abs() for (name, p), g in zip(params.items(), grads)}


# ---------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class _Row:
    position: str
    path: str
    block: str
    channels: int | None


def _block_name(module: nn.Module) -> str:
    return next((name for name in list_blocks() if block_info(name).cls is type(module)), type(module).__name__)


def _rows(model: nn.Module) -> list[_Row]:
    """The model's positions in space order, with the module path, block name and channels of each."""
    names = getattr(model, "position_names", None)
    if not isinstance(names, Mapping) or not names:
        raise NasbenchError(
            "saliency: the model has no `position_names` mapping module paths to positions; "
            "build it with SearchSpace.build(...) or pass the SearchSpace"
        )
    modules = dict(model.named_modules())
    paths: dict[str, str] = {}
    for path, position in names.items():
        if path not in modules:
            raise NasbenchError(f"saliency: model.position_names names module {path!r}, which the model lacks")
        paths[position] = path
    channels: dict[str, int] = {}
    order = list(paths)
    config = getattr(model, "config", None)
    if isinstance(model, Backbone) and config is not None:
        stages = type(model).stages(config)
        channels = {f"{s.name}.{i}": s.channels for s in stages for i in range(s.blocks)}
        order = [p for p in channels if p in paths] + [p for p in paths if p not in channels]
    return [_Row(p, paths[p], _block_name(modules[paths[p]]), channels.get(p)) for p in order]


def _metrics(metrics: Sequence[str] | str) -> list[Metric]:
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if not names:
        raise NasbenchError(f"saliency: metrics is empty; choose from {known(list_metrics())}")
    return [_METRICS.get(name, "saliency") for name in dict.fromkeys(names)]


def _loss(loss: str | Loss) -> Loss:
    if isinstance(loss, str) and loss not in list_losses():
        raise NasbenchError(f"saliency: unknown loss {loss!r} {known(list_losses())}{suggest(loss, list_losses())}")
    return get_loss(loss)


def _draw(
    data: Dataset | Sequence[Any], batches: int, batch_size: int, seed: int, like: torch.Tensor
) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """``batches`` batches of ``batch_size`` items drawn by ``seed`` (without replacement while enough)."""
    for key, value in (("batches", batches), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise NasbenchError(f"saliency: {key} must be a positive integer, got {value!r}")
    try:
        size = len(data)  # type: ignore[arg-type]
    except TypeError:
        raise NasbenchError(
            f"saliency: data must be a Dataset or list of (degraded, clean) pairs, got {data!r}"
        ) from None
    if size == 0:
        raise NasbenchError("saliency: data is empty; pass a Dataset or list of (degraded, clean) pairs")
    total = batches * batch_size
    indices = np.random.default_rng(seed).choice(size, size=total, replace=total > size)
    items = []
    for i in indices:
        item = data[int(i)]
        if not (isinstance(item, Sequence) and len(item) == 2):
            raise NasbenchError(f"saliency: data[{i}] is not a (degraded, clean) pair")
        pair = tuple(torch.as_tensor(t).to(like) for t in item)
        if pair[0].dim() != 3 or pair[0].shape != pair[1].shape:
            raise NasbenchError(
                f"saliency: data[{i}] must be two C×H×W tensors of one shape, got "
                f"{tuple(pair[0].shape)} and {tuple(pair[1].shape)}"
            )
        items.append(pair)
    shapes = sorted({tuple(p[0].shape) for p in items})
    if len(shapes) > 1:
        raise NasbenchError(f"saliency: data items differ in shape {shapes}; use equal crops (e.g. a CropDataset)")
    return tuple(
        (torch.stack([p[0] for p in chunk]), torch.stack([p[1] for p in chunk]))
        for chunk in (items[b * batch_size : (b + 1) * batch_size] for b in range(batches))
    )


def zero_skip_parameters(model: nn.Module) -> list[str]:
    """Names of the all-zero parameters called ``beta`` or ``gamma`` (NAFNet's skip scales at init)."""
    return [
        name
        for name, p in model.named_parameters()
        if name.rsplit(".", 1)[-1] in SKIP_PARAMETERS and not p.detach().any()
    ]


def _scoring_copy(model: nn.Module, skip_init: float | None) -> nn.Module:
    """A deep copy in eval mode with every parameter trainable and, with ``skip_init``, zero β/γ set."""
    scored = copy.deepcopy(model).eval()
    for p in scored.parameters():
        p.requires_grad_(True)
    if skip_init is None:
        return scored
    if isinstance(skip_init, bool) or not isinstance(skip_init, int | float) or not math.isfinite(skip_init):
        raise NasbenchError(f"saliency: skip_init must be a finite number or None, got {skip_init!r}")
    if skip_init == 0:
        raise NasbenchError("saliency: skip_init=0 leaves NAFNet blocks the identity; use e.g. skip_init=1.0")
    params = dict(scored.named_parameters())
    zero = zero_skip_parameters(scored)
    if not zero:
        warnings.warn(
            f"saliency: skip_init={skip_init} given but the model has no all-zero beta/gamma parameter; "
            "nothing was changed",
            SaliencyWarning,
            stacklevel=3,
        )
    with torch.no_grad():
        for name in zero:
            params[name].fill_(float(skip_init))
    return scored


def _model(model_or_space: nn.Module | SearchSpace, seed: int) -> nn.Module:
    if isinstance(model_or_space, nn.Module):
        return model_or_space
    if not isinstance(model_or_space, SearchSpace):
        raise NasbenchError(
            f"saliency: expected an nn.Module built by SearchSpace.build or a SearchSpace, "
            f"got {type(model_or_space).__name__}"
        )
    warnings.warn(
        f"saliency: scoring the untrained baseline of space {model_or_space.name!r} (weights drawn with seed "
        f"{seed}); zero-cost scores of an untrained network reflect only its initialisation, and NAFNet blocks "
        "start as the identity — score a trained model (or pass skip_init) to decide which blocks to protect",
        SaliencyWarning,
        stacklevel=3,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return model_or_space.build()


# ---------------------------------------------------------------------- scoring
def parameter_scores(
    model_or_space: nn.Module | SearchSpace,
    data: Dataset | Sequence[Any],
    metric: str,
    *,
    loss: str | Loss = "l1",
    batches: int = 1,
    batch_size: int = 4,
    seed: int = 0,
    skip_init: float | None = None,
) -> dict[str, torch.Tensor]:
    """Per-parameter scores of one metric for every parameter of the network (float64 tensors keyed by
    parameter name, each the shape of its parameter, or a scalar for ``grad_norm``). Arguments as in
    :func:`saliency`; the caller's model is never changed."""
    (chosen,) = _metrics([metric])
    scored = _scoring_copy(_model(model_or_space, seed), skip_init)
    return _score(chosen, scored, _data_for(scored, data, batches, batch_size, seed), _loss(loss), seed)


def _data_for(
    model: nn.Module, data: Dataset | Sequence[Any], batches: int, batch_size: int, seed: int
) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    like = next(model.parameters(), torch.zeros(()))
    return _draw(data, batches, batch_size, seed, like.detach())


def _score(
    metric: Metric,
    scored: nn.Module,
    batches: tuple[tuple[torch.Tensor, torch.Tensor], ...],
    loss: Loss,
    seed: int,
) -> dict[str, torch.Tensor]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        raw = metric.fn(Probe(copy.deepcopy(scored), batches, loss))
    return {name: torch.as_tensor(s).detach().to(torch.float64) for name, s in raw.items()}


def _owner(name: str, rows: Sequence[_Row]) -> str | None:
    return next((r.position for r in rows if name.startswith(r.path + ".")), None)


def saliency(
    model_or_space: nn.Module | SearchSpace,
    data: Dataset | Sequence[Any],
    metrics: Sequence[str] | str = DEFAULT_METRICS,
    *,
    loss: str | Loss = "l1",
    batches: int = 1,
    batch_size: int = 4,
    seed: int = 0,
    skip_init: float | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Zero-cost saliency of every search position: a DataFrame indexed by position name in space order.

    ``model_or_space`` is a network built by ``SearchSpace.build`` (its ``position_names`` map module
    paths to positions) or a SearchSpace, whose untrained baseline is then built with ``seed`` (a warning
    says why that is degenerate). ``data`` is a Dataset or list of (degraded, clean) 3×H×W pairs of one
    size; ``batches`` batches of ``batch_size`` items are drawn with ``seed``. ``loss`` names a
    restoration loss (``l1``, ``l2``/``mse``, ``psnr``) against the clean image, or is a callable.
    ``skip_init`` scores a copy whose all-zero ``beta``/``gamma`` parameters are set to that value.

    Columns: ``block`` (registry name), ``channels`` (when the backbone is known), ``params`` (count of
    parameters in the block), one column per metric (the sum of its per-parameter scores over the block),
    ``rank_<metric>`` (1 = most salient; ``plain`` and ``grasp`` by \\|score\\|) and ``aggregate`` (mean of the
    ranks).
    A :class:`SaliencyWarning` flags metrics that are exactly zero in every block, or not finite.
    """
    chosen = _metrics(metrics)
    loss_fn = _loss(loss)
    model = _model(model_or_space, seed)
    rows = _rows(model)
    scored = _scoring_copy(model, skip_init)
    pairs = _data_for(scored, data, batches, batch_size, seed)
    owners = {name: _owner(name, rows) for name, _ in scored.named_parameters()}
    counts = dict.fromkeys((r.position for r in rows), 0)
    for name, p in scored.named_parameters():
        if owners[name] is not None:
            counts[owners[name]] += p.numel()
    frame = pd.DataFrame(index=pd.Index([r.position for r in rows], name="position"))
    frame["block"] = [r.block for r in rows]
    if any(r.channels is not None for r in rows):
        frame["channels"] = [r.channels for r in rows]
    frame["params"] = [counts[r.position] for r in rows]
    for metric in tqdm(chosen, desc="saliency", unit="metric", disable=not progress):
        per_position = dict.fromkeys(counts, 0.0)
        for name, score in _score(metric, scored, pairs, loss_fn, seed).items():
            if owners.get(name) is not None:
                per_position[owners[name]] += float(score.sum())
        frame[metric.name] = [per_position[r.position] for r in rows]
    for metric in chosen:
        key = frame[metric.name].abs() if metric.absolute else frame[metric.name]
        frame[RANK_PREFIX + metric.name] = key.rank(ascending=False, method="min", na_option="bottom").astype(int)
    frame[AGGREGATE] = frame[[RANK_PREFIX + m.name for m in chosen]].mean(axis=1)
    _warn_degenerate(frame, [m.name for m in chosen], scored, skip_init)
    return frame


def _warn_degenerate(frame: pd.DataFrame, metrics: list[str], scored: nn.Module, skip_init: float | None) -> None:
    bad = [m for m in metrics if not np.isfinite(frame[m].to_numpy()).all()]
    if bad:
        warnings.warn(
            f"saliency: {', '.join(bad)} gave non-finite scores at "
            f"{', '.join(frame.index[~np.isfinite(frame[bad].to_numpy()).all(axis=1)])}; "
            "they are ranked last",
            SaliencyWarning,
            stacklevel=3,
        )
    zero = [m for m in metrics if (frame[m] == 0).all()]
    skips = zero_skip_parameters(scored) if skip_init is None else []
    if not zero and not skips:
        return
    if skips:
        others = [m for m in metrics if m not in zero]
        message = (
            f"saliency: {len(skips)} NAFNet β/γ parameters are all zero (the default init, e.g. {skips[0]}), "
            "which makes those blocks the identity and every gradient inside them zero"
        )
        if zero:
            message += f"; every in-block {', '.join(zero)} score is exactly 0"
        if others:
            message += f"; {', '.join(others)} see only the gradient of β/γ themselves"
        message += (
            ". Fix: score a trained model, or pass skip_init=1.0 to score a copy with β = γ = 1.0 "
            "(the model passed in is not changed)"
        )
    elif not frame["params"].any():
        message = (
            f"saliency: every in-block {', '.join(zero)} score is exactly 0 because no position has parameters "
            "(every block is parameter-free, e.g. identity); there is nothing to rank"
        )
    elif zero == ["synflow"]:
        message = (
            "saliency: every in-block synflow score is exactly 0, so the positions cannot be ranked by it. "
            "Cause: R = Σ net(1) does not depend on the blocks — typically an output clamp that saturates on the "
            "all-ones input with |weights| (lite_unet clamps to [0, 1]). Fix: score a network built with the "
            "clamp off (lite_unet: backbone clamp: false), or rank by the other metrics"
        )
    else:
        message = (
            f"saliency: every in-block {', '.join(zero)} score is exactly 0, so the positions cannot be ranked "
            "by it. Cause: the blocks' parameters or the gradients reaching them are zero (an untrained block "
            "that starts as the identity, or a loss that is already 0). Fix: score a trained model, or check "
            "that the data's degraded and clean images differ"
        )
    warnings.warn(message, SaliencyWarning, stacklevel=3)


# ---------------------------------------------------------------------- using the scores
def score_metrics(scores: pd.DataFrame) -> list[str]:
    """The metric columns of a :func:`saliency` DataFrame (those with a ``rank_<metric>`` column)."""
    return [
        c[len(RANK_PREFIX) :] for c in scores.columns if c.startswith(RANK_PREFIX) and c[len(RANK_PREFIX) :] in scores
    ]


def protect(scores: pd.DataFrame, k: int = 1, *, metric: str = AGGREGATE) -> list[str]:
    """Names of the ``k`` most salient positions by ``metric``'s rank (``aggregate``: the mean rank);
    ties keep space order."""
    allowed = [AGGREGATE, *score_metrics(scores)]
    if metric not in allowed or metric not in scores:
        raise NasbenchError(f"protect: unknown metric {metric!r} {known(allowed)}{suggest(str(metric), allowed)}")
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= len(scores):
        raise NasbenchError(f"protect: k must be an integer in 0..{len(scores)} (the number of positions), got {k!r}")
    key = scores[metric] if metric == AGGREGATE else scores[RANK_PREFIX + metric]
    return [str(name) for name in key.sort_values(kind="stable").index[:k]]


def _first_candidate(spec: Mapping[str, Any], position: str, stage: str) -> Any:
    """The declaration of a position's first candidate, from the most specific level that sets candidates."""
    for level in (spec.get("positions", {}).get(position, {}), spec.get("stages", {}).get(stage, {}), spec):
        if "candidates" in level:
            return copy.deepcopy(level["candidates"][0])
    raise ArchitectureError(f"restrict: position {position!r} has no candidates")


def restrict(space: SearchSpace, protected: Sequence[str] | str) -> SearchSpace:
    """A new space ``<name>_protected`` in which every ``protected`` position keeps only its original
    (first) candidate, through the YAML schema's ``positions:`` override; everything else is unchanged."""
    names = [protected] if isinstance(protected, str) else list(protected)
    positions = [p.name for p in space.positions]
    for name in names:
        if name not in positions:
            shown = positions if len(positions) <= 12 else [*positions[:12], "..."]
            raise ArchitectureError(
                f"restrict: space {space.name!r} has no position {name!r} {known(shown)}{suggest(str(name), positions)}"
            )
    spec = space.to_dict()
    overrides = {k: dict(v) for k, v in spec.get("positions", {}).items()}
    for name in dict.fromkeys(names):
        position = space.position(name)
        overrides.setdefault(name, {})["candidates"] = [_first_candidate(spec, name, position.stage)]
    fixed = ", ".join(dict.fromkeys(names)) or "none"
    spec.update(
        name=f"{space.name}_protected",
        description=f"{spec.get('description', space.name)} (saliency-protected, original block kept: {fixed})",
        positions=overrides,
    )
    return SearchSpace.from_dict(spec, source=f"restrict({space.name!r})")


# ---------------------------------------------------------------------- plot
def saliency_plot_data(scores: pd.DataFrame, protected: Sequence[str] | int = 1) -> dict[str, Any]:
    """The arrays behind :func:`plot_saliency`: positions, the value per panel (each metric, then the
    aggregate mean rank), which panels use a log axis, and the protected mask; an int ``protected`` takes
    :func:`protect`'s top k."""
    metrics = score_metrics(scores)
    if not metrics or AGGREGATE not in scores:
        raise NasbenchError("plot_saliency: scores has no metric columns; pass the DataFrame saliency returned")
    chosen = protect(scores, protected) if isinstance(protected, int) else list(protected)
    unknown = [p for p in chosen if p not in scores.index]
    if unknown:
        raise NasbenchError(f"plot_saliency: unknown position {unknown[0]!r} {known(scores.index)}")
    panels = {m: scores[m].to_numpy(dtype=float) for m in metrics}
    panels[AGGREGATE] = scores[AGGREGATE].to_numpy(dtype=float)
    return {
        "positions": [str(p) for p in scores.index],
        "panels": panels,
        "log": {name: _spans_decades(values) and name != AGGREGATE for name, values in panels.items()},
        "protected": np.array([p in chosen for p in scores.index]),
    }


def _spans_decades(values: np.ndarray, decades: float = 3.0) -> bool:
    """Positive values whose max/min exceeds 10^decades (SynFlow's usually do): drawn on a log axis."""
    return bool(np.isfinite(values).all() and (values > 0).all() and values.max() > values.min() * 10**decades)


def plot_saliency(scores: pd.DataFrame, path: str | Path, *, protected: Sequence[str] | int = 1) -> Path:
    """Bar charts of a :func:`saliency` DataFrame as a PNG: one panel per metric and one for the aggregate
    mean rank, a bar per position, protected positions in red (``protected``: names, or the top k)."""
    from nasbench.search.plots import _pyplot

    data = saliency_plot_data(scores, protected)
    plt = _pyplot()
    panels = data["panels"]
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    width = max(4.0, 0.28 * len(data["positions"]) + 1.5)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, 2.8 * rows), squeeze=False)
    colours = ["tab:red" if flag else "tab:blue" for flag in data["protected"]]
    x = np.arange(len(data["positions"]))
    for ax, (name, values) in zip(axes.flat, panels.items()):
        ax.bar(x, values, color=colours)
        title = "aggregate: mean rank (lower = more salient)" if name == AGGREGATE else name
        if data["log"][name]:
            ax.set_yscale("log")
            title += " (log scale)"
        ax.set_title(title, fontsize=9)
        ax.set_xticks(x, data["positions"], rotation=90, fontsize=7)
        if not data["log"][name]:
            ax.axhline(0.0, color="k", lw=0.5)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    shown = ", ".join(p for p, flag in zip(data["positions"], data["protected"]) if flag) or "none"
    fig.suptitle(f"per-position saliency (sum over each block's parameters); red = protected: {shown}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = [
    "AGGREGATE",
    "DEFAULT_METRICS",
    "Metric",
    "Probe",
    "SaliencyWarning",
    "absolute_weights",
    "channel_groups",
    "list_metrics",
    "parameter_scores",
    "plot_saliency",
    "protect",
    "register_metric",
    "restrict",
    "saliency",
    "saliency_plot_data",
    "score_metrics",
    "zero_skip_parameters",
]
