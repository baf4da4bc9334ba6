"""The browser's decoder for a model: the ONNX export and its manifest.

The export is made by ``export_onnx.run_export`` the first time a process needs it and
verified once per process; the set-up (``make setup``) normally made it already.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=8)
def decoder_export(model: str) -> tuple[Path, dict[str, object]]:
    """(folder, manifest) of ``model``'s export, exporting it first if missing."""
    from export_onnx.export import run_export

    result = run_export(model)
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
