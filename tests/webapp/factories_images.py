"""Files for the image tests to upload: real photos, an EXIF-rotated JPEG, corrupt
files, a decompression bomb. Users, projects and clients come from conftest's factories.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import skimage.data
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage


def stored_files(folder: Path) -> list[Path]:
    """Every file under ``folder``, for asserting that nothing was left behind."""
    return sorted(p for p in folder.rglob("*") if p.is_file())


def encoded(pixels: np.ndarray, fmt: str = "JPEG", **options: object) -> bytes:
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, format=fmt, **options)
    return out.getvalue()


def astronaut_jpeg() -> bytes:
    """skimage's astronaut photo, 512×512."""
    return encoded(skimage.data.astronaut(), quality=95)


def coffee_jpeg() -> bytes:
    """skimage's coffee photo, 600 wide × 400 high."""
    return encoded(skimage.data.coffee(), quality=95)


def small_png(seed: int = 0, size: tuple[int, int] = (40, 30)) -> bytes:
    """A small random RGB PNG, ``size`` = (width, height); a new seed, new content."""
    rng = np.random.default_rng(seed)
    return encoded(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), "PNG")


def rotated_jpeg() -> bytes:
    """A 60 wide × 20 high JPEG whose EXIF says: turn a quarter, so users see 20 × 60."""
    exif = PILImage.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    out = io.BytesIO()
    PILImage.new("RGB", (60, 20), (200, 30, 30)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(side: int = 20000) -> bytes:
    """A PNG of a few dozen bytes whose header says ``side`` × ``side`` pixels."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def upload(name: str, content: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)
