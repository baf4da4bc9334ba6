"""The browser's decoder for a model: the ONNX build and its manifest.

The build is made by ``export_onnx.build_onnx`` the first time a process needs it and
verified once per process; the set-up (``make setup``) normally made it already.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=8)
def decoder_build(model: str) -> tuple[Path, dict[str, object]]:
    """(folder, manifest) of ``model``'s ONNX build, building it first if missing."""
    from export_onnx.build import build_onnx

    result = build_onnx(model)
    return result.out_dir, result.manifest


def decoder_files(manifest: dict[str, object]) -> dict[str, str]:
    """The decoder files a manifest lists, split decoders' image stages included:
    file name -> sha256."""
    decoders = manifest.get("decoders", {})
    assert isinstance(decoders, dict)
    entries = [
        *decoders.values(),
        *(e["image_stage"] for e in decoders.values() if e.get("image_stage")),
    ]
    return {entry["file"]: entry["sha256"] for entry in entries}
