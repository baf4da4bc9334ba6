"""Reading user images safely into 8-bit RGB, the way SAM expects them.

EXIF orientation is applied; grey, grey+alpha, RGBA, CMYK, palette and 16-bit or
float images become 8-bit RGB (alpha is dropped, as SAM's own loader does). Files
that are not images, are corrupt, or whose size would exhaust memory are refused
with :class:`ImageRejected` before any pixel is decoded.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from inference.transforms import resized_shape


def _max_pixels_setting() -> int:
    raw = os.environ.get("SAMLABEL_MAX_IMAGE_PIXELS", "100000000")
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"SAMLABEL_MAX_IMAGE_PIXELS={raw!r}: give a whole number of pixels")
    return value


# A 100-megapixel photo is about the largest a camera makes; past it we refuse.
MAX_PIXELS = _max_pixels_setting()


class ImageRejected(ValueError):
    """The file cannot be used as an image; the message says why, for a person."""


def check_dimensions(width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse sizes that are empty, too large, or too thin to keep a pixel at 1024."""
    if width < 1 or height < 1:
        raise ImageRejected(f"the image has no pixels ({width}×{height})")
    if width * height > max_pixels:
        raise ImageRejected(
            f"the image is {width}×{height} = {width * height:,} pixels, over the limit of "
            f"{max_pixels:,}; scale it down first"
        )
    if min(resized_shape(height, width)) < 1:
        raise ImageRejected(
            f"the image is {width}×{height}: too thin to segment (its short side would be "
            "under one pixel once the long side is 1024)"
        )


def to_rgb8(image: Image.Image) -> Image.Image:
    """A decoded Pillow image of any mode -> 8-bit RGB, EXIF orientation applied."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        if image.mode == "F":
            lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
            arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        else:
            # 16-bit samples (Pillow widens them to mode I): 0-65535 -> 0-255.
            arr = arr / 257.0
        grey = np.clip(np.nan_to_num(arr) + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")


def load_image(source: str | Path | bytes | BinaryIO, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open a file path, bytes or binary stream as 8-bit RGB with EXIF orientation applied.

    Raises :class:`ImageRejected` for anything that is not a usable image.
    """
    name = str(source) if isinstance(source, (str, Path)) else "the upload"
    stream: BinaryIO
    if isinstance(source, bytes):
        stream = io.BytesIO(source)
    elif isinstance(source, (str, Path)):
        try:
            stream = open(source, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ImageRejected(f"{name}: cannot be read ({exc.strerror})") from exc
    else:
        stream = source
    try:
        with warnings.catch_warnings():
            # Our own pixel limit below decides; Pillow's warning would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image: Image.Image
            try:
                image = Image.open(stream)
            except UnidentifiedImageError as exc:
                raise ImageRejected(f"{name}: not an image, or a format we cannot read") from exc
            except Image.DecompressionBombError as exc:
                raise ImageRejected(f"{name}: the image is too large to open safely") from exc
            except (OSError, SyntaxError, ValueError) as exc:
                # A file cut inside its header fails while Pillow reads the header.
                raise ImageRejected(f"{name}: the image data is corrupt or truncated") from exc
            try:
                check_dimensions(image.width, image.height, max_pixels)
            except ImageRejected as exc:
                raise ImageRejected(f"{name}: {exc}") from None
            try:
                image.load()
                return to_rgb8(image)
            except (OSError, SyntaxError, ValueError) as exc:
                raise ImageRejected(f"{name}: the image data is corrupt or truncated") from exc
    finally:
        if isinstance(source, (str, Path)):
            stream.close()
