"""Large images at full detail, in a real browser with the real MobileSAM weights: zooming
into a large image asks the server for the crop on screen (the page says it is being
encoded, then that it is in use), a click there is decoded on the crop's embedding, and
the mask saved lies where the object is in the whole image. Zooming out goes back to the
whole image's embedding."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.e2e.conftest import PASSWORD
from tests.e2e.test_annotator import decodes, open_annotator, wait_for_mask_after
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.crops.models import CropEmbedding

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH, HEIGHT = 4200, 2800
# A small dark disc on a light, gently shaded background: 1/8 of a percent of the image.
CENTRE, RADIUS = (3050, 1900), 45


def disc_mask() -> np.ndarray:
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    return (xs - CENTRE[0]) ** 2 + (ys - CENTRE[1]) ** 2 <= RADIUS**2


def large_photo() -> bytes:
    rng = np.random.default_rng(7)
    shade = np.linspace(200, 235, WIDTH, dtype=np.float32)[None, :] + rng.normal(
        0, 4, (HEIGHT, WIDTH)
    ).astype(np.float32)
    pixels = np.repeat(shade[:, :, None], 3, axis=2)
    pixels[disc_mask()] = (40, 30, 120)
    out = io.BytesIO()
    PILImage.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=92)
    return out.getvalue()


def stage(page: Any, name: str) -> str:
    return page.locator("#annotator-stage").get_attribute(f"data-{name}") or ""


def wait_for_detail(page: Any, *states: str) -> None:
    """Until the stage's ``data-detail`` is one of ``states``."""
    detail = "document.getElementById('annotator-stage').dataset.detail"
    page.wait_for_function(f"() => {list(states)!r}.includes({detail})", timeout=120_000)


def to_screen(page: Any, x: float, y: float) -> tuple[float, float]:
    """Image pixel (x, y) -> page coordinates, from the view's transform as it is now."""
    box = page.locator("#annotator-stage").bounding_box()
    scale = float(stage(page, "scale"))
    return (
        box["x"] + float(stage(page, "offset-x")) + (x + 0.5) * scale,
        box["y"] + float(stage(page, "offset-y")) + (y + 0.5) * scale,
    )


def test_zooming_into_a_large_image_decodes_clicks_on_the_crop_and_saves_in_place(
    live_server: Any, e2e_settings: Any, django_user_model: Any, signed_in: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.images.uploads import ingest_upload
    from webapp.projects.models import LabelClass, Project

    owner = django_user_model.objects.create_user("owner", password=PASSWORD)
    project = Project.create_with_owner(owner, name="Aerial")
    LabelClass.objects.create(project=project, name="disc", color="#00a0ff", shortcut="d")
    upload = SimpleUploadedFile("large.jpg", large_photo(), content_type="image/jpeg")
    image = ingest_upload(project, upload, owner).image
    image.refresh_from_db()
    assert image.status == "ready", image.failure_reason

    page = signed_in(live_server.url, "owner")
    open_annotator(page, live_server.url, project, image)
    wait_for_detail(page, "whole")
    assert page.locator("#annotator-detail").text_content().startswith("Detail: whole image")

    # Zoom in on the disc until the window on screen is under half the image's width.
    fit = float(stage(page, "scale"))
    page.mouse.move(*to_screen(page, *CENTRE))
    page.mouse.wheel(0, -350)
    page.wait_for_function(
        f"() => Number(document.getElementById('annotator-stage').dataset.scale) > {fit * 1.5}"
    )
    page.mouse.wheel(0, -350)
    page.wait_for_function(
        f"() => Number(document.getElementById('annotator-stage').dataset.scale) > {fit * 3}"
    )
    wait_for_detail(page, "encoding")
    assert "encoding crop" in page.locator("#annotator-detail").text_content()
    wait_for_detail(page, "crop")
    assert "crop in use" in page.locator("#annotator-detail").text_content()
    x0, y0, x1, y1 = (int(v) for v in stage(page, "detail-box").split(","))
    assert x0 <= CENTRE[0] < x1 and y0 <= CENTRE[1] < y1
    crop = CropEmbedding.objects.get(image=image)
    assert crop.status == "done" and crop.box.as_list() == [x0, y0, x1, y1]

    before = decodes(page)
    page.mouse.click(*to_screen(page, *CENTRE))
    wait_for_mask_after(page, before)
    assert stage(page, "live-frame") == "crop"
    # The fp32 decoder's mask, decoded on the crop's embedding too, replaces the 8-bit one.
    page.wait_for_function("() => document.getElementById('annotator-stage').dataset.exact === '1'")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelectorAll('#annotator-annotations li').length === 1"
    )

    saved = rle.decode(Annotation.objects.get(image=image).rle)
    assert saved.shape == (HEIGHT, WIDTH)
    truth = disc_mask()
    iou = float(np.logical_and(saved, truth).sum() / np.logical_or(saved, truth).sum())
    assert iou > 0.9, iou
    ys, xs = np.nonzero(saved)
    assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1

    # Zoomed out again, clicks go to the whole image's embedding.
    page.mouse.wheel(0, 700)
    wait_for_detail(page, "whole")
    before = decodes(page)
    page.mouse.click(*to_screen(page, *CENTRE))
    wait_for_mask_after(page, before)
    assert stage(page, "live-frame") == "image"
    assert [line for line in page.console_lines if "error" in line.lower()] == []
