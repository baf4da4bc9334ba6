"""Reading user images safely into 8-bit RGB, the way SAM expects them.

EXIF orientation is applied; grey, grey+alpha, RGBA, CMYK, palette and 16-bit or
float images become 8-bit RGB (alpha is dropped, as SAM's own loader does). Files
that are not images, are corrupt, or whose size would exhaust memory are refused
with :class:`ImageRejected` before any pixel is decoded.

:func:`load_image` decodes every pixel. :func:`load_image_reduced` is for uses that need
fewer (the model's 1024-pixel input, a thumbnail): JPEGs are decoded at 1/2, 1/4 or 1/8
of their size straight from the compressed data (libjpeg's scaled decoding, Pillow's
"draft" mode), never below the size asked for, which costs a fraction of a full decode.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from inference.transforms import IMAGE_SIZE, resized_shape


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


ImageFileSource = str | Path | bytes | BinaryIO
# EXIF orientations that turn the image a quarter: the stored width is the shown height.
QUARTER_TURNS = {5, 6, 7, 8}


@dataclass(frozen=True)
class DecodedImage:
    """An image decoded at a reduced size, with the size of the image itself.

    ``pixels``: 8-bit RGB, EXIF orientation applied, at least the asked-for size on its
    longest side (or the whole image when it is smaller). ``width``, ``height``: the full
    image's size in the original frame (as the user sees it, orientation applied), which
    is what coordinates and SAM's model frame refer to.
    """

    pixels: Image.Image
    width: int
    height: int

    @property
    def reduced(self) -> bool:
        """True when ``pixels`` has fewer pixels than the image."""
        return self.pixels.size != (self.width, self.height)


@contextmanager
def _opened(source: ImageFileSource, max_pixels: int) -> Iterator[tuple[Image.Image, str]]:
    """The image file opened by Pillow (header read, no pixel decoded) after its size was
    checked, and the name to give it in messages."""
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
            yield image, name
    finally:
        if isinstance(source, (str, Path)):
            stream.close()


def _decoded_rgb8(image: Image.Image, name: str) -> Image.Image:
    try:
        image.load()
        return to_rgb8(image)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"{name}: the image data is corrupt or truncated") from exc


def load_image(source: ImageFileSource, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open a file path, bytes or binary stream as 8-bit RGB with EXIF orientation applied.

    Raises :class:`ImageRejected` for anything that is not a usable image.
    """
    with _opened(source, max_pixels) as (image, name):
        return _decoded_rgb8(image, name)


def load_image_reduced(
    source: ImageFileSource, long_side: int = IMAGE_SIZE, max_pixels: int = MAX_PIXELS
) -> DecodedImage:
    """Like :func:`load_image`, decoding a JPEG at the smallest of 1/8, 1/4, 1/2 or full
    scale that keeps at least ``long_side`` pixels on its longest side (other formats in
    full). The whole file is still read and checked, so a corrupt or truncated image is
    refused as by :func:`load_image`.
    """
    with _opened(source, max_pixels) as (image, name):
        width, height = image.size
        try:
            orientation = image.getexif().get(ExifTags.Base.Orientation)
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageRejected(f"{name}: the image data is corrupt or truncated") from exc
        if orientation in QUARTER_TURNS:
            width, height = height, width
        if max(image.size) > long_side:
            # draft() picks the largest reduction that keeps both sides at least the
            # size asked for; the other formats ignore it.
            smaller_h, smaller_w = resized_shape(image.height, image.width, long_side)
            image.draft(image.mode, (smaller_w, smaller_h))
        return DecodedImage(_decoded_rgb8(image, name), width, height)
