"""What the annotator draws is what SAM encoded: a WebP whose EXIF turns it a quarter and
a TIFF (which browsers do not decode) are shown upright, and a click on the object the
user sees gives that object's mask (real MobileSAM weights, real Chromium)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.e2e.conftest import PASSWORD
from tests.e2e.test_annotator import click, iou, open_annotator, save, screen_point
from webapp.annotations import rle
from webapp.annotations.models import Annotation

pytestmark = pytest.mark.django_db(transaction=True)

# The picture as the user sees it: 240 wide × 320 high, a light background with an
# orange disk off-centre, in the lower left.
WIDTH, HEIGHT = 240, 320
DISK_X, DISK_Y, RADIUS = 70, 230, 40
ORANGE = (235, 120, 20)


def upright_picture() -> tuple[PILImage.Image, np.ndarray]:
    """The picture and its disk's mask (H, W) bool."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    disk = (xs - DISK_X) ** 2 + (ys - DISK_Y) ** 2 <= RADIUS**2
    pixels = np.full((HEIGHT, WIDTH, 3), (215, 220, 225), dtype=np.uint8)
    pixels[disk] = ORANGE
    return PILImage.fromarray(pixels), disk


def turned_webp() -> bytes:
    """The picture stored a quarter turn anticlockwise (320 wide × 240 high), with EXIF
    orientation 6: "turn it clockwise to show it"."""
    picture, _ = upright_picture()
    exif = PILImage.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    picture.transpose(PILImage.Transpose.ROTATE_90).save(
        out, format="WEBP", lossless=True, exif=exif
    )
    return out.getvalue()


def tiff() -> bytes:
    picture, _ = upright_picture()
    out = io.BytesIO()
    picture.save(out, format="TIFF")
    return out.getvalue()


@pytest.fixture
def uploaded(live_server: Any, e2e_settings: Any, django_user_model: Any):
    """``uploaded(name, content)``: a project with that file encoded, its owner's name."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.images.uploads import ingest_upload
    from webapp.projects.models import LabelClass, Project

    owner = django_user_model.objects.create_user("owner", password=PASSWORD)
    project = Project.create_with_owner(owner, name="Formats")
    LabelClass.objects.create(project=project, name="disk", color="#00a0ff", shortcut="d")

    def make(name: str, content: bytes) -> Any:
        result = ingest_upload(project, SimpleUploadedFile(name, content), owner)
        assert result.outcome == "created", result.reason
        image = result.image
        image.refresh_from_db()
        assert image.status == "ready", image.failure_reason
        return image

    return make


def shown_colour(page: Any, image: Any, x: float, y: float) -> tuple[int, int, int]:
    """The colour the page shows at image pixel (x, y), from a screenshot."""
    sx, sy = screen_point(page, image, x, y)
    shot = page.screenshot(clip={"x": sx - 1, "y": sy - 1, "width": 3, "height": 3})
    pixel = np.asarray(PILImage.open(io.BytesIO(shot)).convert("RGB"))[1, 1]
    return int(pixel[0]), int(pixel[1]), int(pixel[2])


@pytest.mark.parametrize(("name", "content"), [("phone.webp", turned_webp()), ("scan.tif", tiff())])
def test_a_click_on_the_object_shown_gives_that_objects_mask(
    uploaded, signed_in, live_server: Any, name: str, content: bytes
) -> None:
    image = uploaded(name, content)
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    page = signed_in(live_server.url, "owner")
    open_annotator(page, live_server.url, image.project, image)
    page.mouse.move(0, 0)

    # The user sees the disk where it is in the picture, and the background elsewhere.
    seen = shown_colour(page, image, DISK_X, DISK_Y)
    assert all(abs(a - b) <= 30 for a, b in zip(seen, ORANGE, strict=True)), seen
    elsewhere = shown_colour(page, image, WIDTH - 40, 40)
    assert min(elsewhere) > 190, elsewhere

    click(page, image, DISK_X, DISK_Y)
    save(page)

    mask = rle.decode(Annotation.objects.get(image=image).rle)
    _, disk = upright_picture()
    assert mask.shape == (HEIGHT, WIDTH)
    assert iou(mask, disk) >= 0.9
