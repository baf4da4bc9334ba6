from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image
from skimage import data

from export_onnx import OnnxBuild, build_onnx
from export_onnx.runtime import OnnxDecoder
from inference.encode import encode


@pytest.fixture(scope="session")
def mobile_sam_build() -> OnnxBuild:
    """The real MobileSAM ONNX build in the cache folder (made once, then verified)."""
    return build_onnx("mobile_sam")


@pytest.fixture(scope="session")
def photo() -> Callable[[str], tuple[np.ndarray, np.ndarray]]:
    """A factory: skimage photo name -> (RGB pixels (H, W, 3), embedding (1, 256, 64, 64))."""
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def make(name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in cache:
            pixels = getattr(data, name)()
            cache[name] = (pixels, encode([Image.fromarray(pixels)]))
        return cache[name]

    return make


@pytest.fixture(scope="session")
def decoder(mobile_sam_build: OnnxBuild) -> Callable[[str], OnnxDecoder]:
    sessions: dict[str, OnnxDecoder] = {}

    def make(variant: str) -> OnnxDecoder:
        if variant not in sessions:
            sessions[variant] = OnnxDecoder(variant, out_dir=mobile_sam_build.out_dir)
        return sessions[variant]

    return make
