"""Decoding a large JPEG only as far as the model needs (``load_image_reduced``): the size
it decodes at, the original size it reports, and that SAM sees the same picture.

How close is "the same": both ways low-pass the photo before sampling it at 1024 pixels,
with slightly different filters (libjpeg's scaled inverse DCT, then one bilinear resize,
against one bilinear resize of the full decode). On the test photo below the model inputs
differ by 0.2 grey levels on average and 2 at the 99.9th percentile, in 0-255 units; a
JPEG at quality 90 moves the same photo's model input by 0.3 on average from its
uncompressed pixels. So the bounds asserted, 0.5 on average and 4 at the 99.9th
percentile, are about the size of JPEG's own error, which SAM sees in every photo; and
the masks must agree to IoU 0.99, the bound the parity tests hold the decoders to.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import skimage.data
from PIL import ExifTags, Image

from inference.encode import encode
from inference.images import DecodedImage, ImageRejected, load_image, load_image_reduced
from inference.predict import predict
from inference.transforms import PIXEL_STD, to_model_input

MakeImageFile = Callable[..., Path]
DEVICE = "cpu"


def camera_photo(width: int, height: int) -> Image.Image:
    """The astronaut photo enlarged to a camera's size, with sensor-like noise so that it
    has detail at every scale (a plain enlargement would be smooth and easy)."""
    enlarged = Image.fromarray(skimage.data.astronaut()).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    noise = np.random.default_rng(0).integers(-8, 9, (height, width, 1))
    pixels = np.clip(np.asarray(enlarged, np.int16) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def jpeg(picture: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    ("size", "decoded"),
    [
        ((4000, 3000), (2000, 1500)),  # a 12-megapixel photo: half size keeps 2000 ≥ 1024
        ((4096, 2304), (1024, 576)),  # exactly 1024 at a quarter
        ((9000, 1000), (1125, 125)),  # a panorama: an eighth, the most libjpeg reduces
        ((1500, 1000), (1500, 1000)),  # half would be 750 < 1024: decoded in full
        ((800, 600), (800, 600)),  # smaller than the model input
    ],
)
def test_a_jpeg_is_decoded_at_the_smallest_scale_that_keeps_1024_pixels(
    size: tuple[int, int], decoded: tuple[int, int]
) -> None:
    picture = Image.new("RGB", size, (90, 140, 200))

    loaded = load_image_reduced(jpeg(picture))

    assert loaded.pixels.size == decoded
    assert (loaded.width, loaded.height) == size
    assert loaded.pixels.mode == "RGB"
    assert loaded.reduced == (decoded != size)


def test_a_smaller_long_side_decodes_smaller_for_a_thumbnail() -> None:
    loaded = load_image_reduced(jpeg(Image.new("RGB", (4000, 3000))), long_side=256)

    assert loaded.pixels.size == (500, 375)  # an eighth; a quarter would be 1000
    assert (loaded.width, loaded.height) == (4000, 3000)


def test_a_turned_phone_photo_reports_its_upright_size_and_is_decoded_upright() -> None:
    stored = np.zeros((3000, 4000, 3), np.uint8)  # as the camera stores it: landscape
    stored[:400, :400] = (255, 0, 0)  # the stored top-left corner
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # "rotate 90° clockwise to view"

    loaded = load_image_reduced(jpeg(Image.fromarray(stored), exif=exif))

    assert (loaded.width, loaded.height) == (3000, 4000)
    assert loaded.pixels.size == (1500, 2000)
    red = np.asarray(loaded.pixels)[:100, -100:]  # the stored top-left is now top-right
    assert red[..., 0].min() > 200 and red[..., 1].max() < 60


def test_other_formats_are_decoded_whole_then_reduced_by_a_whole_factor(
    make_image_file: MakeImageFile,
) -> None:
    path = make_image_file("scan.png", Image.new("RGB", (3000, 2000), (10, 20, 30)))

    loaded = load_image_reduced(path)

    assert loaded.pixels.size == (1500, 1000) and loaded.reduced
    assert (loaded.width, loaded.height) == (3000, 2000)
    assert np.asarray(loaded.pixels)[500, 700].tolist() == [10, 20, 30]


def test_a_truncated_jpeg_is_refused_as_by_the_full_decode() -> None:
    content = jpeg(camera_photo(2400, 1800))[:-20000]

    with pytest.raises(ImageRejected, match="corrupt or truncated"):
        load_image_reduced(content)


def grey_levels(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """|a - b| of two model inputs (3, 1024, 1024) in 0-255 grey levels."""
    return np.abs(a - b) * np.array(PIXEL_STD, np.float32)[:, None, None]


@pytest.fixture(scope="module")
def large_photo() -> tuple[Image.Image, DecodedImage]:
    """(the full decode, the reduced decode) of a 4000×3000 JPEG."""
    content = jpeg(camera_photo(4000, 3000))
    return load_image(content), load_image_reduced(content)


def test_the_reduced_decode_gives_the_model_input_of_the_full_decode(
    large_photo: tuple[Image.Image, DecodedImage],
) -> None:
    full, reduced = large_photo
    assert reduced.reduced

    difference = grey_levels(
        to_model_input(full), to_model_input(reduced.pixels, (reduced.height, reduced.width))
    )

    assert difference.mean() <= 0.5
    assert np.percentile(difference, 99.9) <= 4


def test_the_reduced_decode_keeps_the_model_frame_of_the_full_image() -> None:
    """4001×3001 decodes at half as 2001×1501 (rounded up); the model frame is still
    computed from the full size, 1024×768, as the decoder's is."""
    reduced = load_image_reduced(jpeg(Image.new("RGB", (4001, 3001), (200, 200, 200))))

    model_input = to_model_input(reduced.pixels, (reduced.height, reduced.width))

    assert reduced.pixels.size == (2001, 1501)
    content_rows = np.flatnonzero(np.abs(model_input[0]).sum(axis=1) > 0)
    assert content_rows.max() + 1 == 768


def test_the_reduced_decode_gives_the_masks_of_the_full_decode(
    large_photo: tuple[Image.Image, DecodedImage], mobile_sam_checkpoint: Path
) -> None:
    full, reduced = large_photo
    embeddings = encode([full, reduced], "mobile_sam", batch_size=2, device=DEVICE)
    face = [[1953, 703]]  # the astronaut's face, (250, 120) in the 512×512 original

    masks = [
        predict(embedding, face, [1], image_size=(3000, 4000)).masks for embedding in embeddings
    ]

    for from_full, from_reduced in zip(*masks, strict=True):
        assert from_full.any()
        iou = (
            np.logical_and(from_full, from_reduced).sum()
            / np.logical_or(from_full, from_reduced).sum()
        )
        assert iou >= 0.99
