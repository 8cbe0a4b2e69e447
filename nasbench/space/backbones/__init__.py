"""Backbones: the fixed skeletons (U-Nets) that searchable blocks are placed into."""

from nasbench.space.backbones import lite, nafnet, restormer  # noqa: F401  (registers the backbones)
from nasbench.space.backbones.base import (
    Backbone,
    Stage,
    get_backbone,
    list_backbones,
    register_backbone,
)
from nasbench.space.backbones.lite import LiteUNet, LiteUNetConfig
from nasbench.space.backbones.nafnet import NAFNetConfig, NAFNetUNet
from nasbench.space.backbones.restormer import RestormerConfig, RestormerUNet

__all__ = [
    "Backbone",
    "LiteUNet",
    "LiteUNetConfig",
    "NAFNetConfig",
    "NAFNetUNet",
    "RestormerConfig",
    "RestormerUNet",
    "Stage",
    "get_backbone",
    "list_backbones",
    "register_backbone",
]
