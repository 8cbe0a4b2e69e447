"""Deployment: BatchNorm folding, ONNX export and verification, operator allow-list checks."""

from nasbench.deploy.fold import (
    FoldRule,
    batchnorm_affine,
    fold_batchnorm,
    fold_bn_into_conv,
    fold_rules,
    fuse_conv_bn,
    register_fold_rule,
    unregister_fold_rule,
)
from nasbench.deploy.onnx import DEFAULT_OPSET, OnnxCheck, export_onnx, onnx_session, verify_onnx
from nasbench.deploy.operators import (
    AllowList,
    OperatorViolation,
    check_operators,
    list_allowlists,
    load_allowlist,
)
from nasbench.deploy.tiled import restore_file, restore_image

__all__ = [
    "DEFAULT_OPSET",
    "AllowList",
    "FoldRule",
    "OnnxCheck",
    "OperatorViolation",
    "batchnorm_affine",
    "check_operators",
    "export_onnx",
    "fold_batchnorm",
    "fold_bn_into_conv",
    "fold_rules",
    "fuse_conv_bn",
    "list_allowlists",
    "load_allowlist",
    "onnx_session",
    "register_fold_rule",
    "restore_file",
    "restore_image",
    "unregister_fold_rule",
    "verify_onnx",
]
