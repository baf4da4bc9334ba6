"""Builds SAM's prompt encoder + mask decoder (and the image encoder) as ONNX files.

``build_onnx(...)`` does the work; ``python -m export_onnx`` is a thin command line.
"""

from export_onnx.build import OnnxBuild, build_onnx

__all__ = ["OnnxBuild", "build_onnx"]
