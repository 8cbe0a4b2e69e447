"""BatchNorm folding: merge eval-mode BatchNorm into the neighbouring convolution before export.

In eval mode a BatchNorm is a per-channel affine map ``BN(x) = s·x + t`` with

    s = γ / √(running_var + eps),    t = β − running_mean · s

so it merges exactly into a convolution next to it:

* **Conv → BN** (BN after the conv): ``W' = s ⊙ W`` (row o scaled by s_o), ``b' = s ⊙ (b − mean) + β``;
  torch's :func:`torch.nn.utils.fusion.fuse_conv_bn_weights` does this.
* **BN → Conv** (BN before a conv without padding, as ``naf_bn`` / ``naf_lite`` put it before their 1×1
  convs): ``W'[o, i] = W[o, i] · s_i`` and ``b'_o = b_o + Σ_i Σ_k W[o, i, k] · t_i``, i.e. W' = W·diag(s),
  b' = b + W·t for a 1×1 conv. Exact only without padding: padded zeros never received the shift t.

Which submodules fold is decided by fold rules keyed by module class (:func:`register_fold_rule`). A
rule matches its exact class only, because it encodes the data flow of that class's ``forward``, which a
subclass may change; register the same function for a subclass explicitly.

LayerNorm cannot fold: its statistics are computed from every input at run time, not stored.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.utils.fusion import fuse_conv_bn_weights

from nasbench.blocks.conv import ConvBNReLUBlock
from nasbench.blocks.nafnet import NAFBNBlock, NAFLiteBlock, _NAFSkeleton
from nasbench.errors import ExportError

#: A fold rule takes a submodule of the (already copied, eval-mode) model whose children are folded,
#: and returns the module to put in its place: usually the same object, modified in place.
FoldRule = Callable[[Any], nn.Module]

_FOLD_RULES: dict[type[nn.Module], FoldRule] = {}

# Exact types only: subclasses may override forward (e.g. weight-standardised convs).
_PLAIN_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_PLAIN_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def register_fold_rule(*classes: type[nn.Module], overwrite: bool = False) -> Callable[[FoldRule], FoldRule]:
    """Decorator: fold every submodule whose class is exactly one of ``classes`` with the decorated rule.

    The rule receives the submodule (eval mode, children already folded) and returns its replacement;
    it may raise ``ValueError`` when the module cannot fold, which :func:`fold_batchnorm` reports with
    the module's path. Example::

        @register_fold_rule(MyBlock)
        def fold_my_block(block: MyBlock) -> nn.Module:
            block.conv = fuse_conv_bn(block.conv, block.bn)
            block.bn = nn.Identity()
            return block
    """
    if not classes:
        raise ExportError("register_fold_rule: name at least one module class")
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise ExportError(f"register_fold_rule: {cls!r} is not an nn.Module class")

    def decorate(rule: FoldRule) -> FoldRule:
        for cls in classes:
            existing = _FOLD_RULES.get(cls)
            if existing is not None and existing is not rule and not overwrite:
                raise ExportError(
                    f"register_fold_rule: {cls.__qualname__} already has the fold rule "
                    f"{existing.__module__}.{existing.__qualname__} (pass overwrite=True)"
                )
        for cls in classes:
            _FOLD_RULES[cls] = rule
        return rule

    return decorate


def unregister_fold_rule(cls: type[nn.Module]) -> None:
    """Remove the fold rule of ``cls`` (for tests and interactive sessions)."""
    if cls not in _FOLD_RULES:
        raise ExportError(f"unregister_fold_rule: {getattr(cls, '__qualname__', cls)!r} has no fold rule")
    del _FOLD_RULES[cls]


def fold_rules() -> dict[type[nn.Module], FoldRule]:
    """A copy of the registered fold rules, by module class."""
    return dict(_FOLD_RULES)


def batchnorm_affine(bn: _BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """The eval-mode affine map of ``bn``: per-channel ``(s, t)``, each of shape (C,), BN(x) = s·x + t.

    Raises ``ValueError`` when ``bn`` has no running statistics (``track_running_stats=False``): such a
    BatchNorm normalises with the statistics of each batch even in eval mode, so it is not an affine map.
    """
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(
            "BatchNorm has no running statistics (track_running_stats=False): it normalises with batch "
            "statistics even in eval mode, so it cannot fold"
        )
    mean, var = bn.running_mean.detach(), bn.running_var.detach()
    gamma = bn.weight.detach() if bn.weight is not None else torch.ones_like(mean)
    beta = bn.bias.detach() if bn.bias is not None else torch.zeros_like(mean)
    s = gamma * torch.rsqrt(var + bn.eps)
    return s, beta - mean * s


def fuse_conv_bn(conv: _ConvNd, bn: _BatchNorm) -> _ConvNd:
    """A new conv equal to ``bn(conv(x))`` in eval mode (Conv → BN), via torch's ``fuse_conv_bn_weights``.

    Unlike ``fuse_conv_bn_eval`` it does not require the modules to be in eval mode: it always folds the
    running statistics, which is what eval mode uses.
    """
    if conv.transposed:
        raise ValueError(f"{type(conv).__name__} is transposed; only forward convolutions fold here")
    if conv.out_channels != bn.num_features:
        raise ValueError(f"conv has {conv.out_channels} output channels but BatchNorm has {bn.num_features}")
    batchnorm_affine(bn)  # the running-statistics check, with our message instead of torch's TypeError
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(
        conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
    )
    return fused


def fold_bn_into_conv(bn: _BatchNorm, conv: _ConvNd) -> _ConvNd:
    """A new conv equal to ``conv(bn(x))`` in eval mode (BN → Conv); ``conv`` must not pad.

    With s, t from :func:`batchnorm_affine` and W of shape (O, I/g, k…): W'[o, j] = W[o, j]·s[i(o, j)]
    and b'_o = b_o + Σ_j Σ_k W[o, j, k]·t[i(o, j)], where i(o, j) is the input channel that weight
    column j of output o reads (i = j for groups = 1). For a 1×1 conv that is W' = W·diag(s),
    b' = b + W·t.
    """
    if conv.transposed:
        raise ValueError(f"{type(conv).__name__} is transposed; only forward convolutions fold here")
    if conv.in_channels != bn.num_features:
        raise ValueError(f"BatchNorm has {bn.num_features} channels but the conv reads {conv.in_channels}")
    if conv.padding != "valid" and any(conv.padding):
        raise ValueError(
            f"the conv pads its input (padding={conv.padding}); the padded border never received BatchNorm's "
            "shift, so the fold would not be exact"
        )
    s, t = batchnorm_affine(bn)
    out_ch, in_per_group = conv.out_channels, conv.in_channels // conv.groups
    groups = conv.groups
    # Per (output, weight column): the BN scale/shift of the input channel that column reads.
    s_w = s.view(groups, 1, in_per_group).expand(groups, out_ch // groups, in_per_group).reshape(out_ch, -1)
    t_w = t.view(groups, 1, in_per_group).expand(groups, out_ch // groups, in_per_group).reshape(out_ch, -1)
    weight = conv.weight.detach()
    bias = conv.bias.detach() if conv.bias is not None else weight.new_zeros(out_ch)
    fused = copy.deepcopy(conv)
    fused.weight = nn.Parameter(weight * s_w.view(*s_w.shape, *([1] * (weight.dim() - 2))))
    fused.bias = nn.Parameter(bias + (weight.flatten(2).sum(2) * t_w).sum(1))
    return fused


def fold_batchnorm(model: nn.Module, *, strict: bool = False) -> nn.Module:
    """A folded deep copy of ``model`` in eval mode; ``model`` itself is not changed.

    Every submodule whose class has a fold rule is folded (children first): plain ``nn.Sequential``
    Conv → BatchNorm pairs, ``conv_bn_relu``, ``naf_bn`` and ``naf_lite``, plus rules users register with
    :func:`register_fold_rule`. Folded BatchNorms become ``nn.Identity``, so module paths stay valid. The
    outputs equal the eval-mode outputs of ``model`` up to float rounding.

    BatchNorms no rule reaches stay as they are; with ``strict=True`` any left raises
    :class:`~nasbench.errors.ExportError` naming them. A BatchNorm without running statistics raises
    :class:`~nasbench.errors.ExportError` naming its parent module.
    """
    folded = _fold(copy.deepcopy(model).eval(), "", {}).eval()
    if strict:
        left = [name or "<root>" for name, m in folded.named_modules() if isinstance(m, _BatchNorm)]
        if left:
            raise ExportError(
                f"fold_batchnorm: {len(left)} BatchNorm module(s) could not fold: {', '.join(left)} "
                "(register a fold rule for their parent with nasbench.deploy.register_fold_rule)"
            )
    return folded


def _fold(module: nn.Module, path: str, done: dict[int, nn.Module]) -> nn.Module:
    """Fold ``module``'s children, then ``module`` itself; ``done`` maps id → result for shared modules."""
    if id(module) in done:
        return done[id(module)]
    # _modules, not named_children(): the latter hides the second name of a module registered twice.
    for name, child in list(module._modules.items()):
        if child is None:
            continue
        new = _fold(child, f"{path}.{name}" if path else name, done)
        if new is not child:
            setattr(module, name, new)
    result = module
    rule = _FOLD_RULES.get(type(module))
    if rule is not None:
        try:
            result = rule(module)
        except ValueError as exc:
            raise ExportError(f"fold_batchnorm: {path or '<root>'} ({type(module).__name__}): {exc}") from None
    done[id(module)] = result
    return result


# ---------------------------------------------------------------------- built-in rules
@register_fold_rule(nn.Sequential)
def _fold_sequential(seq: nn.Sequential) -> nn.Module:
    """Conv followed directly by BatchNorm in a plain ``nn.Sequential``: fuse, BN → Identity."""
    items = list(seq.named_children())
    for (conv_name, conv), (bn_name, bn) in zip(items, items[1:]):
        if type(conv) in _PLAIN_CONVS and type(bn) in _PLAIN_BATCHNORMS:
            setattr(seq, conv_name, fuse_conv_bn(conv, bn))
            setattr(seq, bn_name, nn.Identity())
    return seq


@register_fold_rule(ConvBNReLUBlock)
def _fold_conv_bn_relu(block: ConvBNReLUBlock) -> nn.Module:
    """x + ReLU(BN(Conv(x))) → x + ReLU(Conv'(x))."""
    block.conv = fuse_conv_bn(block.conv, block.bn)
    block.bn = nn.Identity()
    return block


@register_fold_rule(NAFBNBlock, NAFLiteBlock)
def _fold_naf(block: _NAFSkeleton) -> nn.Module:
    """norm1 feeds only conv1 and norm2 only conv4, both 1×1 without padding: fold BN → Conv."""
    block.conv1 = fold_bn_into_conv(block.norm1, block.conv1)
    block.norm1 = nn.Identity()
    block.conv4 = fold_bn_into_conv(block.norm2, block.conv4)
    block.norm2 = nn.Identity()
    return block


__all__ = [
    "FoldRule",
    "batchnorm_affine",
    "fold_batchnorm",
    "fold_bn_into_conv",
    "fold_rules",
    "fuse_conv_bn",
    "register_fold_rule",
    "unregister_fold_rule",
]
