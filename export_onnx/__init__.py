"""Exports SAM's prompt encoder + mask decoder (and the image encoder) to ONNX.

``run_export(...)`` does the work; ``python -m export_onnx`` is a thin command line.
"""

from export_onnx.export import ExportResult, run_export

__all__ = ["ExportResult", "run_export"]
