"""Deployment: ONNX export and verification (BN folding and operator checks come with the latency work)."""

from nasbench.deploy.onnx import DEFAULT_OPSET, OnnxCheck, export_onnx, onnx_session, verify_onnx

__all__ = ["DEFAULT_OPSET", "OnnxCheck", "export_onnx", "onnx_session", "verify_onnx"]
