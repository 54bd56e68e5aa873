"""Model compression and portable export (SPEC G1, seed 003 ch. 5)."""

from skysift.compression.onnx import (
    ONNX_FORMAT,
    ONNX_FORMAT_VERSION,
    ONNX_METADATA_KEY,
    export_onnx,
)

__all__ = ["ONNX_FORMAT", "ONNX_FORMAT_VERSION", "ONNX_METADATA_KEY", "export_onnx"]
