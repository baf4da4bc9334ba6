"""A cache of weights and ONNX builds for one test (``SAMLABEL_CACHE_DIR``), empty until
the test puts stand-in weights or a stand-in build of a model there."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from export_onnx.build import BUILD_VERSION
from export_onnx.manifest import MANIFEST_FORMAT
from inference.registry import BUILTIN_MODELS, get_model, onnx_dir
from inference.weights import checkpoint_path


class ModelCache:
    """``SAMLABEL_CACHE_DIR`` of one test: no model is ready and nothing is built until
    :meth:`add_weights` and :meth:`write_onnx_build` say so."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.folder = folder
        self._monkeypatch = monkeypatch
        monkeypatch.setenv("SAMLABEL_CACHE_DIR", str(folder))

    def add_weights(self, name: str) -> Path:
        """Put 4 KiB of stand-in weights where built-in model ``name``'s checkpoint goes and
        make the registry expect exactly those bytes: ``name`` is then ready. The path."""
        content = os.urandom(4096)
        spec = dataclasses.replace(
            BUILTIN_MODELS[name], size=len(content), sha256=hashlib.sha256(content).hexdigest()
        )
        self._monkeypatch.setitem(BUILTIN_MODELS, name, spec)
        path = checkpoint_path(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path

    def write_onnx_build(
        self, model: str, *, build_version: int = BUILD_VERSION, seed: bytes = b""
    ) -> dict[str, Any]:
        """Write a stand-in build of ``model`` into ``onnx_dir(model)`` as
        ``export_onnx.build_onnx`` would (the files first, the manifest last, replaced in
        one step); the files hold a few bytes, not graphs. Its manifest."""
        folder = onnx_dir(model)
        folder.mkdir(parents=True, exist_ok=True)

        def entry(name: str) -> dict[str, Any]:
            content = f"{name} of {model} {seed!r}".encode()
            (folder / name).write_bytes(content)
            return {
                "file": name,
                "sha256": hashlib.sha256(content).hexdigest(),
                "size": len(content),
            }

        decoders = {
            precision: {
                **entry(f"decoder_split_{precision}.onnx"),
                "image_stage": entry(f"image_stage_{precision}.onnx"),
            }
            for precision in ("int8", "fp32")
        }
        manifest = {
            "format": MANIFEST_FORMAT,
            "build_version": build_version,
            "model": model,
            "checkpoint_sha256": get_model(model).sha256,
            "image_size": 1024,
            "decoders": {f"split_{p}": d for p, d in decoders.items()},
            "browser_decoder": "split_int8",
            "exact_decoder": "split_fp32",
            "image_encoder": entry("image_encoder.onnx"),
        }
        tmp = folder / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=2))
        os.replace(tmp, folder / "manifest.json")
        return manifest
