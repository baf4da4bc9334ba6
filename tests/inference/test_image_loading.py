"""Reading user images: EXIF orientation, every colour mode to 8-bit RGB, and a clear
:class:`ImageRejected` for anything that is not a usable image."""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import ExifTags, Image, ImageFile

from inference.images import ImageRejected, load_image

MakeImageFile = Callable[..., Path]


def photo_bytes(image_format: str) -> bytes:
    """The cat photo (451×300) encoded as ``image_format``."""
    buffer = io.BytesIO()
    Image.fromarray(skimage.data.chelsea()).save(buffer, image_format)
    return buffer.getvalue()


def blank_png(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG of any size, a few bytes per megapixel: the shape
    of a decompression bomb. Rows are compressed one by one to keep memory small."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    compressor = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)  # filter byte "none", then the packed bits
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.fixture
def pixels_never_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if Pillow starts decoding pixel data."""

    def refuse(self: ImageFile.ImageFile) -> None:
        pytest.fail(f"decoded the pixels of a {self.width}×{self.height} image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


# --- orientation and colour modes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "quarter_turns", "red_pixel"),
    [
        (6, -1, (5, 35)),  # "rotate 90° clockwise to view": the stored top-left goes top-right
        (8, 1, (55, 5)),  # "rotate 90° counter-clockwise": the stored top-left goes bottom-left
    ],
)
def test_exif_orientation_is_applied(
    orientation: int,
    quarter_turns: int,
    red_pixel: tuple[int, int],
    make_image_file: MakeImageFile,
) -> None:
    stored = np.zeros((40, 60, 3), np.uint8)  # as the camera stores it: 60 wide, 40 high
    stored[:16, :16] = (255, 0, 0)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    path = make_image_file("phone.jpg", Image.fromarray(stored), exif=exif, quality=95)

    loaded = load_image(path)

    assert loaded.size == (40, 60)  # width and height swapped
    with Image.open(path) as as_stored:
        decoded = np.asarray(as_stored.convert("RGB"))
    np.testing.assert_array_equal(np.asarray(loaded), np.rot90(decoded, k=quarter_turns))
    pixels = np.asarray(loaded)
    np.testing.assert_allclose(pixels[red_pixel], (255, 0, 0), atol=8)
    np.testing.assert_allclose(pixels[5, 5], (0, 0, 0), atol=8)  # no longer top-left


def rgb_of(colour: tuple[int, int, int]) -> np.ndarray:
    return np.array(colour, dtype=np.int16)


def palette_image(transparent: bool) -> Image.Image:
    """30×20, palette entry 1 (teal) everywhere but a transparent-if-asked entry 0 row."""
    image = Image.new("P", (30, 20), 1)
    image.putpalette([0, 0, 0, 10, 120, 230] + [0] * (256 * 3 - 6))
    image.paste(0, (0, 0, 30, 1))
    if transparent:
        image.info["transparency"] = 0
    return image


@pytest.mark.parametrize(
    ("stored_mode", "image", "filename", "expected_rgb"),
    [
        ("1", Image.new("1", (30, 20), 1), "bilevel.png", (255, 255, 255)),
        ("L", Image.new("L", (30, 20), 200), "grey.png", (200, 200, 200)),
        ("LA", Image.new("LA", (30, 20), (200, 0)), "grey_alpha.png", (200, 200, 200)),
        ("RGBA", Image.new("RGBA", (30, 20), (10, 120, 230, 64)), "rgba.png", (10, 120, 230)),
        ("P", palette_image(transparent=False), "palette.png", (10, 120, 230)),
        ("P", palette_image(transparent=True), "palette_transparent.png", (10, 120, 230)),
        ("P", palette_image(transparent=True), "palette_transparent.gif", (10, 120, 230)),
        ("CMYK", Image.new("CMYK", (30, 20), (0, 255, 255, 0)), "print.jpg", (255, 0, 0)),
        ("CMYK", Image.new("CMYK", (30, 20), (0, 255, 255, 0)), "print.tif", (255, 0, 0)),
        ("I;16", Image.fromarray(np.full((20, 30), 65535, np.uint16)), "deep.png", (255,) * 3),
        ("I;16", Image.fromarray(np.full((20, 30), 65535, np.uint16)), "deep.tif", (255,) * 3),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_every_colour_mode_becomes_8_bit_rgb_of_the_same_size(
    stored_mode: str,
    image: Image.Image,
    filename: str,
    expected_rgb: tuple[int, int, int],
    make_image_file: MakeImageFile,
) -> None:
    path = make_image_file(filename, image)
    with Image.open(path) as stored:
        assert stored.mode == stored_mode  # the file really holds that mode

    loaded = load_image(path)

    assert (loaded.mode, loaded.size) == ("RGB", (30, 20))
    pixels = np.asarray(loaded)
    assert pixels.dtype == np.uint8
    np.testing.assert_allclose(pixels[10, 15], expected_rgb, atol=3)


def test_a_16_bit_image_keeps_its_dark_middle_and_bright_pixels_in_place(
    make_image_file: MakeImageFile,
) -> None:
    deep = np.zeros((20, 30), np.uint16)
    deep[:, 10:20] = 32896  # half of 65535
    deep[5, 25] = 65535  # one bright pixel
    path = make_image_file("microscope.png", Image.fromarray(deep))

    grey = np.asarray(load_image(path))[..., 0]

    assert grey[5, 25] == 255
    assert grey[5, 15] == 128
    assert grey[5, 5] == 0
    assert grey[6, 25] == 0


def test_paths_bytes_and_open_files_load_the_same_pixels(make_image_file: MakeImageFile) -> None:
    path = make_image_file("cat.jpg", Image.fromarray(skimage.data.chelsea()))

    from_path = np.asarray(load_image(path))
    from_text_path = np.asarray(load_image(str(path)))
    from_bytes = np.asarray(load_image(path.read_bytes()))
    with open(path, "rb") as stream:
        from_stream = np.asarray(load_image(stream))

    assert from_path.shape == (300, 451, 3)
    for other in (from_text_path, from_bytes, from_stream):
        np.testing.assert_array_equal(other, from_path)


# --- files that are refused ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "image_format", "kept"),
    [
        pytest.param("half.jpg", "JPEG", 0.5, id="half.jpg"),
        pytest.param("almost.jpg", "JPEG", 0.95, id="almost.jpg"),
        pytest.param("half.png", "PNG", 0.5, id="half.png"),
        pytest.param("half.gif", "GIF", 0.5, id="half.gif"),
        pytest.param("half.tif", "TIFF", 0.5, id="half.tif"),
        pytest.param(
            "header_only.jpg",
            "JPEG",
            200 / len(photo_bytes("JPEG")),
            id="header_only.jpg",
        ),
        pytest.param(
            "half.webp",
            "WEBP",
            0.5,
            id="half.webp",
        ),
    ],
)
def test_a_truncated_image_is_refused_as_corrupt_or_truncated(
    filename: str, image_format: str, kept: float, tmp_path: Path
) -> None:
    whole = photo_bytes(image_format)
    path = tmp_path / filename
    path.write_bytes(whole[: int(len(whole) * kept)])

    with pytest.raises(ImageRejected) as refused:
        load_image(path)

    assert str(refused.value) == f"{path}: the image data is corrupt or truncated"


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("empty.jpg", b""),
        ("notes.jpg", b"shopping list: coffee, cat food\n"),
        ("page.jpg", b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>"),
        (
            "logo.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
            b'<circle cx="32" cy="32" r="30" fill="teal"/></svg>',
        ),
        ("archive.png", b"PK\x03\x04" + bytes(100)),
    ],
)
def test_a_file_that_is_not_an_image_is_refused_as_such(
    filename: str, content: bytes, tmp_path: Path
) -> None:
    path = tmp_path / filename
    path.write_bytes(content)

    with pytest.raises(ImageRejected) as refused:
        load_image(path)

    assert str(refused.value) == (
        f"{path}: not an image in a format we accept (JPEG, PNG, WebP, GIF, BMP or TIFF)"
    )


def test_an_upload_that_is_not_an_image_is_called_the_upload() -> None:
    with pytest.raises(ImageRejected, match=r"^the upload: not an image"):
        load_image(b"GIF89a but not really")


def test_a_missing_file_is_refused_saying_it_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "gone.jpg"

    with pytest.raises(ImageRejected, match="cannot be read") as refused:
        load_image(path)

    assert str(path) in str(refused.value)


@pytest.mark.usefixtures("pixels_never_decoded")
def test_a_decompression_bomb_is_refused_without_decoding_it(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(blank_png(30_000, 30_000))
    assert path.stat().st_size < 200_000  # 900 megapixels in a small file

    with pytest.raises(ImageRejected, match="too large"):
        load_image(path)


@pytest.mark.skipif(
    "SAMLABEL_MAX_IMAGE_PIXELS" in os.environ, reason="the default limit is overridden"
)
@pytest.mark.usefixtures("pixels_never_decoded")
def test_the_default_limit_refuses_just_over_100_megapixels_without_decoding(
    tmp_path: Path,
) -> None:
    path = tmp_path / "panorama.png"
    path.write_bytes(blank_png(10_001, 10_000))

    with pytest.raises(ImageRejected) as refused:
        load_image(path)

    assert str(refused.value).endswith(
        "the image is 10001×10000 = 100,010,000 pixels, over the limit of 100,000,000; "
        "scale it down first"
    )


def test_a_lower_limit_refuses_larger_images_and_accepts_one_of_exactly_its_size(
    make_image_file: MakeImageFile,
) -> None:
    path = make_image_file("coffee.png", Image.fromarray(skimage.data.coffee()))  # 600×400

    with pytest.raises(ImageRejected, match="over the limit of 239,999"):
        load_image(path, max_pixels=239_999)
    assert load_image(path, max_pixels=240_000).size == (600, 400)


def test_an_image_too_thin_to_keep_a_pixel_at_model_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "line.png"
    path.write_bytes(blank_png(100_000, 10))

    with pytest.raises(ImageRejected) as refused:
        load_image(path)

    assert "100000×10: too thin to segment" in str(refused.value)


@pytest.mark.parametrize(
    ("filename", "png", "max_pixels"),
    [("big.png", blank_png(600, 400), 100_000), ("line.png", blank_png(100_000, 10), None)],
    ids=["too large", "too thin"],
)
def test_a_refusal_for_the_image_size_names_the_file(
    filename: str, png: bytes, max_pixels: int | None, tmp_path: Path
) -> None:
    path = tmp_path / filename
    path.write_bytes(png)

    with pytest.raises(ImageRejected) as refused:
        load_image(path, **({"max_pixels": max_pixels} if max_pixels else {}))

    assert str(refused.value).startswith(f"{path}: ")


def test_a_bad_pixel_limit_setting_names_the_variable() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import inference.images"],
        env={**os.environ, "SAMLABEL_MAX_IMAGE_PIXELS": "1e8"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SAMLABEL_MAX_IMAGE_PIXELS='1e8'" in result.stderr
