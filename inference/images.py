"""Reading user images safely into 8-bit RGB, the way SAM expects them.

Only the formats of :data:`ACCEPTED_FORMATS` are opened (never EPS, PostScript or PDF,
which Pillow would hand to Ghostscript). EXIF orientation is applied; grey, grey+alpha,
RGBA, CMYK, palette and 16-bit or float images become 8-bit RGB (alpha is dropped, as
SAM's own loader does). Files that are not images, are corrupt, or whose decode would
exhaust memory are refused with :class:`ImageRejected` before any pixel is decoded: the
limit counts pixels (:data:`MAX_PIXELS`) and the bytes Pillow holds for them
(:data:`MAX_DECODED_BYTES`: a 16-bit or RGB pixel costs more than an 8-bit grey one).

:func:`load_image` decodes every pixel. :func:`load_image_reduced` is for uses that need
fewer (the model's 1024-pixel input, a thumbnail): JPEGs are decoded at 1/2, 1/4 or 1/8
of their size straight from the compressed data (libjpeg's scaled decoding, Pillow's
"draft" mode); other formats are decoded whole and reduced at once, band by band, so that
no full-size copy is made besides the decode itself. :func:`load_upright` gives the whole
picture upright in a mode browsers show as SAM sees it, for display copies.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

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


def _max_decoded_bytes_setting() -> int:
    raw = os.environ.get("SAMLABEL_MAX_DECODED_BYTES", str(256 * 1024 * 1024))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"SAMLABEL_MAX_DECODED_BYTES={raw!r}: give a whole number of bytes")
    return value


# A 100-megapixel photo is about the largest a camera makes; past it we refuse.
MAX_PIXELS = _max_pixels_setting()
# What one decode may hold in memory (256 MiB by default): every 8-bit grey image under
# MAX_PIXELS, a 16-bit one up to 134 megapixels, an RGB one (4 bytes a pixel in Pillow)
# up to 67. A JPEG counts at the reduced size it is decoded at.
MAX_DECODED_BYTES = _max_decoded_bytes_setting()

# Pillow's names of the formats we open. Many cameras' JPEGs open as "MPO" (a JPEG with
# more pictures after the first), through the JPEG plugin.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
ACCEPTED_FORMAT_NAMES = "JPEG, PNG, WebP, GIF, BMP or TIFF"
# Formats that run a program (Ghostscript) to be drawn: refused by name, whatever the
# file is called. Their signatures: PostScript and EPS, DOS EPS, PDF.
_REFUSED_SIGNATURES = ((b"%!", "PostScript/EPS"), (b"\xc5\xd0\xd3\xc6", "EPS"), (b"%PDF", "PDF"))
# Bytes Pillow holds per pixel of each mode (RGB is stored as 4 bytes).
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


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


def bytes_per_pixel(mode: str) -> int:
    """The bytes Pillow holds for one decoded pixel of ``mode``."""
    return _BYTES_PER_PIXEL.get(mode, 4)


def check_decoded_bytes(
    width: int, height: int, mode: str, max_bytes: int = MAX_DECODED_BYTES
) -> None:
    """Refuse a decode of ``width``×``height`` pixels of ``mode`` larger than ``max_bytes``."""
    size = width * height * bytes_per_pixel(mode)
    if size > max_bytes:
        raise ImageRejected(
            f"the image is {width}×{height} pixels of {bytes_per_pixel(mode)} bytes "
            f"({mode}): {size:,} bytes once decoded, over the limit of {max_bytes:,}; "
            "scale it down, or send it as a JPEG"
        )


_HIGH_DEPTH = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_BAND_ROWS = 256  # rows converted at a time: a band's copies stay small


def _float_range(image: Image.Image) -> tuple[float, float]:
    """The smallest and largest value of a float ("F") image."""
    lo, hi = cast("tuple[float, float]", image.getextrema())
    return float(lo), float(hi)


def _grey8(image: Image.Image, value_range: tuple[float, float] | None = None) -> Image.Image:
    """A 16-bit, 32-bit integer or float image -> 8-bit grey ("L"), band by band.

    16-bit samples map 0-65535 to 0-255 (rounded); float ones their range
    ``value_range`` (default: the image's own) to 0-255."""
    grey = Image.new("L", image.size)
    if image.mode == "F" and value_range is None:
        value_range = _float_range(image)
    for top in range(0, image.height, _BAND_ROWS):
        band = image.crop((0, top, image.width, min(top + _BAND_ROWS, image.height)))
        values = np.asarray(band)
        if image.mode == "F":
            lo, hi = value_range or (0.0, 0.0)
            scaled = (values - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(values)
            out = np.clip(np.nan_to_num(scaled) + 0.5, 0, 255).astype(np.uint8)
        else:
            out = ((np.clip(values.astype(np.int64), 0, 65535) + 128) // 257).astype(np.uint8)
        grey.paste(Image.fromarray(out, mode="L"), (0, top))
    return grey


def _shown_mode(image: Image.Image) -> Image.Image:
    """``image`` in the cheapest mode that browsers draw as SAM sees it: "L" for grey
    (16-bit and float scaled), "P" and "1" as they are, "RGB" for the rest (alpha is
    dropped, as by ``convert("RGB")``, so the browser shows what is encoded)."""
    if image.mode in _HIGH_DEPTH:
        return _grey8(image)
    if image.mode in ("1", "L") or (image.mode == "P" and "transparency" not in image.info):
        return image
    if image.mode in ("LA", "La"):
        return image.convert("L")
    if image.mode == "P":
        return image.convert("RGBA").convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def to_rgb8(image: Image.Image) -> Image.Image:
    """A decoded Pillow image of any mode -> 8-bit RGB, EXIF orientation applied."""
    image = ImageOps.exif_transpose(image)
    return _shown_mode(image).convert("RGB")


# EXIF orientation -> the turn that shows the picture upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _reduced_rgb8(image: Image.Image, factor: int) -> Image.Image:
    """``image`` (decoded, any mode, not turned) made 8-bit RGB and ``factor`` times
    smaller (each output pixel the mean of a ``factor``² block, as ``Image.reduce``),
    band by band: no full-size copy besides ``image`` itself."""
    if factor <= 1:
        return _shown_mode(image).convert("RGB")
    value_range = _float_range(image) if image.mode == "F" else None
    width, height = image.size
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    rows = factor * max(1, _BAND_ROWS // factor)
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(top + rows, height)))
        if band.mode in _HIGH_DEPTH:
            band = _grey8(band, value_range)
        out.paste(_shown_mode(band).convert("RGB").reduce(factor), (0, top // factor))
    return out


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
    format: str = ""  # Pillow's name of the file's format
    orientation: int = 1  # the file's EXIF orientation (1 when none)

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
            head = stream.read(4)
            stream.seek(-len(head), io.SEEK_CUR)
            for signature, kind in _REFUSED_SIGNATURES:
                if head.startswith(signature):
                    raise ImageRejected(
                        f"{name}: {kind} files are not accepted; send a "
                        f"{ACCEPTED_FORMAT_NAMES} image"
                    )
            Image.init()  # registers every plugin, so that each accepted name is known
            try:
                image = Image.open(stream, formats=ACCEPTED_FORMATS)
            except UnidentifiedImageError as exc:
                raise ImageRejected(
                    f"{name}: not an image in a format we accept ({ACCEPTED_FORMAT_NAMES})"
                ) from exc
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


def _decoded(image: Image.Image, name: str, max_bytes: int) -> Image.Image:
    """``image`` with its pixels loaded, once the decode's size was checked."""
    _check_bytes(image, name, max_bytes)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"{name}: the image data is corrupt or truncated") from exc
    return image


def _check_bytes(image: Image.Image, name: str, max_bytes: int) -> None:
    try:
        check_decoded_bytes(image.width, image.height, image.mode, max_bytes)
    except ImageRejected as exc:
        raise ImageRejected(f"{name}: {exc}") from None


def _orientation(image: Image.Image, name: str) -> int:
    """The EXIF orientation, 1 when none. Call it only once the decode's size was checked:
    for a PNG, Pillow decodes the pixels to find EXIF data stored after them."""
    try:
        return int(image.getexif().get(ExifTags.Base.Orientation) or 1)
    except (OSError, SyntaxError, ValueError, TypeError) as exc:
        raise ImageRejected(f"{name}: the image data is corrupt or truncated") from exc


def load_image(
    source: ImageFileSource, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_DECODED_BYTES
) -> Image.Image:
    """Open a file path, bytes or binary stream as 8-bit RGB with EXIF orientation applied.

    Raises :class:`ImageRejected` for anything that is not a usable image.
    """
    with _opened(source, max_pixels) as (image, name):
        return to_rgb8(_decoded(image, name, max_bytes))


def load_image_reduced(
    source: ImageFileSource,
    long_side: int = IMAGE_SIZE,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_DECODED_BYTES,
) -> DecodedImage:
    """Like :func:`load_image`, at a reduced size that keeps at least ``long_side`` pixels
    on the longest side: a JPEG decoded at the smallest of 1/8, 1/4, 1/2 or full scale
    that does, other formats decoded whole and reduced by the largest whole factor that
    does, band by band. The whole file is still read and checked, so a corrupt or
    truncated image is refused as by :func:`load_image`.
    """
    with _opened(source, max_pixels) as (image, name):
        width, height = image.size
        if max(image.size) > long_side:
            # draft() picks the largest reduction that keeps both sides at least the
            # size asked for; the other formats ignore it.
            smaller_h, smaller_w = resized_shape(image.height, image.width, long_side)
            image.draft(image.mode, (smaller_w, smaller_h))
        _check_bytes(image, name, max_bytes)
        orientation = _orientation(image, name)
        decoded = _decoded(image, name, max_bytes)
        # Pillow opens a TIFF at its upright size and turns it as it loads it (dropping
        # its orientation tag): only what loading left is turned here.
        left = _orientation(decoded, name)
        if left in QUARTER_TURNS:
            width, height = height, width
        turn = _UPRIGHT.get(left)
        factor = max(1, max(decoded.size) // long_side)
        try:
            pixels = _reduced_rgb8(decoded, factor)
        finally:
            # The full decode is the one large buffer: let it go before anything else.
            decoded.close()
        if turn is not None:
            pixels = pixels.transpose(turn)
        return DecodedImage(pixels, width, height, image.format or "", orientation)


@dataclass(frozen=True)
class UprightImage:
    """A whole picture as it is shown: ``pixels`` upright (EXIF orientation applied) in
    mode "L", "P", "1" or "RGB" (see :func:`load_upright`); ``format`` is Pillow's name
    of the file's format and ``orientation`` its EXIF orientation (1 when none)."""

    pixels: Image.Image
    format: str
    orientation: int


def load_upright(
    source: ImageFileSource, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_DECODED_BYTES
) -> UprightImage:
    """Decode every pixel of ``source`` and turn it upright, in the cheapest mode that a
    browser draws exactly as :func:`load_image` gives it to SAM: 8-bit grey ("L", 16-bit
    and float images scaled as by :func:`to_rgb8`), palette without transparency ("P"),
    bilevel ("1"), else 8-bit RGB with any alpha dropped. Memory: the decode, plus at most
    two copies in the shown mode."""
    with _opened(source, max_pixels) as (image, name):
        file_format = image.format or ""
        _check_bytes(image, name, max_bytes)
        orientation = _orientation(image, name)
        decoded = _decoded(image, name, max_bytes)
        turn = _UPRIGHT.get(_orientation(decoded, name))  # what loading left to turn
        shown = _shown_mode(decoded)
        if shown is not decoded:
            decoded.close()
        if turn is not None:
            turned = shown.transpose(turn)
            shown.close()
            shown = turned
        shown.info.pop("exif", None)
        return UprightImage(shown, file_format, orientation)
