"""Fixtures for the inference tests.

The real MobileSAM checkpoint is fetched and loaded once per session, and every
photo is encoded at most once (encoding is the slow step on a CPU), so the tests
that click on photos only pay for the cheap decoder. Everything runs on the CPU
in float32, so results do not depend on whether the machine has a GPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import skimage.data
from PIL import Image

from inference.encode import encode
from inference.model import load_sam
from inference.modeling.sam import Sam
from inference.predict import Prediction, predict
from inference.registry import cache_dir
from inference.weights import fetch

REPO_ROOT = Path(__file__).resolve().parents[2]
DEVICE = "cpu"

# A dark 17×9 image with a bright 5×5 block at columns 10-14, rows 2-6.
TINY_BLOCK = (slice(2, 7), slice(10, 15))


def tiny_image() -> npt.NDArray[np.uint8]:
    """(9, 17, 3) uint8: far smaller than SAM's 1024 input, and not square."""
    pixels = np.full((9, 17, 3), 40, np.uint8)
    pixels[TINY_BLOCK] = (250, 220, 40)
    return pixels


def coffee_portrait() -> npt.NDArray[np.uint8]:
    """skimage's coffee photo turned a quarter clockwise: 400 wide, 600 high."""
    return np.ascontiguousarray(np.rot90(skimage.data.coffee(), k=-1))


PHOTOS: dict[str, Callable[[], npt.NDArray[np.uint8]]] = {
    # Sizes are width×height.
    "coffee": skimage.data.coffee,  # 600×400: a cup of coffee on a saucer, a spoon
    "coffee_portrait": coffee_portrait,
    "chelsea": skimage.data.chelsea,  # 451×300: a tabby cat's face
    "astronaut": skimage.data.astronaut,  # 512×512: Eileen Collins, her helmet at the right
    "tiny": tiny_image,
}


@dataclass(frozen=True)
class EncodedPhoto:
    pixels: npt.NDArray[np.uint8]  # (H, W, 3)
    embedding: npt.NDArray[np.float32]  # (1, 256, 64, 64)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) in original pixels."""
        return self.pixels.shape[0], self.pixels.shape[1]


@pytest.fixture
def tiny_block() -> npt.NDArray[np.bool_]:
    """(9, 17) bool: where the bright block of the "tiny" photo is."""
    mask = np.zeros((9, 17), bool)
    mask[TINY_BLOCK] = True
    return mask


@pytest.fixture(scope="session")
def real_cache_dir() -> Path:
    """The cache that holds the real checkpoint, read before any test moves it."""
    return cache_dir()


@pytest.fixture(scope="session")
def mobile_sam_checkpoint(real_cache_dir: Path) -> Path:
    """The verified MobileSAM checkpoint file (fetched once if it is missing)."""
    return fetch("mobile_sam")


@pytest.fixture(scope="session")
def mobile_sam(mobile_sam_checkpoint: Path) -> Sam:
    """The real MobileSAM, loaded strictly from the verified checkpoint."""
    return load_sam("mobile_sam", DEVICE)


@pytest.fixture(scope="session")
def encode_photo(mobile_sam: Sam) -> Callable[[str], EncodedPhoto]:
    """``encode_photo(name)`` -> the photo of :data:`PHOTOS` and its real embedding."""
    encoded: dict[str, EncodedPhoto] = {}

    def _encode_photo(name: str) -> EncodedPhoto:
        if name not in encoded:
            pixels = PHOTOS[name]()
            embedding = encode([Image.fromarray(pixels)], "mobile_sam", device=DEVICE)
            encoded[name] = EncodedPhoto(pixels, embedding)
        return encoded[name]

    return _encode_photo


@pytest.fixture(scope="session")
def segment(
    mobile_sam: Sam, encode_photo: Callable[[str], EncodedPhoto]
) -> Callable[..., Prediction]:
    """``segment(photo, points=..., labels=..., box=..., ...)`` -> MobileSAM's prediction,
    prompts in the photo's original pixels, x then y."""

    def _segment(photo: str, **prompts: Any) -> Prediction:
        encoded = encode_photo(photo)
        return predict(encoded.embedding, image_size=encoded.size, model=mobile_sam, **prompts)

    return _segment


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder for this test only (weights, models.json)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("SAMLABEL_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def make_image_file(tmp_path: Path) -> Callable[..., Path]:
    """``make_image_file(name, image, **save_options)`` -> the path of ``image`` saved
    under ``name`` (format from the suffix unless ``format=`` is given)."""

    def _make_image_file(name: str, image: Image.Image, **save_options: Any) -> Path:
        path = tmp_path / name
        image.save(path, **save_options)
        return path

    return _make_image_file


@pytest.fixture(scope="session")
def run_command(real_cache_dir: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_command("inference.fetch", *args)`` -> the finished ``python -m`` process,
    run from the repository root against the real cache (unless ``env`` overrides it)."""

    def _run_command(
        module: str, *args: str | Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {
            **os.environ,
            "SAMLABEL_CACHE_DIR": str(real_cache_dir),
            "PYTHONPATH": str(REPO_ROOT),
            **(env or {}),
        }
        return subprocess.run(
            [sys.executable, "-m", module, *map(str, args)],
            cwd=REPO_ROOT,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return _run_command
