"""Candidate blocks, one file per family, and the registry that names them.

Importing this package registers the built-in families: ``naf``, ``naf_bn``, ``naf_lite`` (NAFNet),
``conv_bn_relu``, ``lite``, ``identity`` (plain convolutions), ``restormer`` (transformer) and ``ssm``
(selective state space).
"""

from nasbench.blocks import conv, nafnet, restormer, ssm  # noqa: F401  (registers the families)
from nasbench.blocks.conv import IdentityBlock
from nasbench.blocks.norms import LayerNorm2d, RestormerLayerNorm
from nasbench.blocks.registry import (
    BlockInfo,
    block_info,
    check_options,
    create_block,
    list_blocks,
    register_block,
    unregister_block,
)

__all__ = [
    "BlockInfo",
    "IdentityBlock",
    "LayerNorm2d",
    "RestormerLayerNorm",
    "block_info",
    "check_options",
    "create_block",
    "list_blocks",
    "register_block",
    "unregister_block",
]
