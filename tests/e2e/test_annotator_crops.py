"""Large images at full detail, in a real browser with the real MobileSAM weights: zooming
into a large image asks the server for the crop on screen (the page says it is being
encoded, then that it is in use), a click there is decoded on the crop's embedding, and
the mask saved lies where the object is in the whole image. SAM's add (Shift+click, an
annotation selected) is decoded on the crop too, and the crop's box is outlined on the
stage while it is in use. Zooming out goes back to the whole image's embedding."""

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
# A small dark disc on a light, gently shaded background: 1/8 of a percent of the image;
# a second one 200 pixels to its left, for SAM's add.
CENTRE, RADIUS = (3050, 1900), 45
SECOND = (2850, 1900)


def disc_mask(centre: tuple[int, int] = CENTRE) -> np.ndarray:
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    return (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 <= RADIUS**2


def large_photo() -> bytes:
    rng = np.random.default_rng(7)
    shade = np.linspace(200, 235, WIDTH, dtype=np.float32)[None, :] + rng.normal(
        0, 4, (HEIGHT, WIDTH)
    ).astype(np.float32)
    pixels = np.repeat(shade[:, :, None], 3, axis=2)
    pixels[disc_mask()] = (40, 30, 120)
    pixels[disc_mask(SECOND)] = (40, 30, 120)
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
    assert image is not None
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


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


def zoom_in_at(page: Any, x: float, y: float) -> None:
    """Two wheel steps in at image pixel (x, y), to over 3 times the scale there was."""
    start = float(stage(page, "scale"))
    page.mouse.move(*to_screen(page, x, y))
    for factor in (1.5, 3):
        page.mouse.wheel(0, -350)
        page.wait_for_function(
            "(s) => Number(document.getElementById('annotator-stage').dataset.scale) > s",
            arg=start * factor,
        )


def wait_stage(page: Any, name: str, value: object) -> None:
    """Until the stage's data-``name`` attribute reads ``value``."""
    key = "".join(part.capitalize() if i else part for i, part in enumerate(name.split("-")))
    page.wait_for_function(
        "([key, value]) => document.getElementById('annotator-stage').dataset[key] === value",
        arg=[key, str(value)],
    )


# The canvas pixels a crop's outline takes under the view's transform as it is now (the
# columns and rows just inside the box's edges, crop-outline.ts), those of them on the
# canvas, and how many are black (the dashes; the picture has no black pixel).
OUTLINE_PIXELS = """(box) => {
  const stage = document.getElementById('annotator-stage');
  const canvas = stage.querySelector('canvas.annotator-canvas');
  const { width, height } = canvas;
  const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
  const { scale, offsetX, offsetY } = stage.dataset;
  const [s, ox, oy] = [scale, offsetX, offsetY].map(Number);
  const left = Math.round(box[0] * s + ox), top = Math.round(box[1] * s + oy);
  const right = Math.round(box[2] * s + ox) - 1, bottom = Math.round(box[3] * s + oy) - 1;
  let sampled = 0, black = 0;
  const look = (x, y) => {
    const i = 4 * (y * width + x);
    sampled++;
    if (data[i + 3] > 200 && Math.max(data[i], data[i + 1], data[i + 2]) < 60) black++;
  };
  const [y0, y1] = [Math.max(top, 0), Math.min(bottom, height - 1)];
  const [x0, x1] = [Math.max(left, 0), Math.min(right, width - 1)];
  for (const x of [left, right])
    if (x >= 0 && x < width) for (let y = y0; y <= y1; y++) look(x, y);
  for (const y of [top, bottom])
    if (y >= 0 && y < height) for (let x = x0; x <= x1; x++) look(x, y);
  return [sampled, black];
}"""


def test_shift_click_at_crop_detail_adds_the_crops_region_and_the_crop_is_outlined(
    live_server: Any, e2e_settings: Any, django_user_model: Any, signed_in: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.annotations.services import create_annotation
    from webapp.images.uploads import ingest_upload
    from webapp.projects.models import LabelClass, Project

    owner = django_user_model.objects.create_user("owner", password=PASSWORD)
    project = Project.create_with_owner(owner, name="Aerial")
    label = LabelClass.objects.create(project=project, name="disc", color="#00a0ff", shortcut="d")
    upload = SimpleUploadedFile("large.jpg", large_photo(), content_type="image/jpeg")
    image = ingest_upload(project, upload, owner).image
    assert image is not None
    image.refresh_from_db()
    assert image.status == "ready", image.failure_reason
    first, second = disc_mask(), disc_mask(SECOND)
    annotation = create_annotation(
        image, author=owner, label_class=label.pk, rle=rle.encode(first.astype(np.uint8))
    )

    page = signed_in(live_server.url, "owner")
    open_annotator(page, live_server.url, project, image)
    wait_for_detail(page, "whole")
    assert stage(page, "detail-outline") == ""

    # At crop detail, the crop in use is outlined, and SAM's add is decoded on it.
    zoom_in_at(page, *CENTRE)
    wait_for_detail(page, "crop")
    box = [int(v) for v in stage(page, "detail-box").split(",")]
    assert stage(page, "detail-outline") == stage(page, "detail-box")
    x0, y0, x1, y1 = box
    assert x0 <= SECOND[0] - RADIUS and CENTRE[0] + RADIUS < x1 and y0 <= 1800 and y1 > 2000
    page.keyboard.press("v")
    page.mouse.click(*to_screen(page, *CENTRE))
    wait_stage(page, "edit-target", annotation.pk)
    page.keyboard.press("v")  # back to prompting: Shift+click still edits the selected
    page.keyboard.down("Shift")
    page.mouse.click(*to_screen(page, *SECOND))
    page.keyboard.up("Shift")
    wait_stage(page, "edits", 1)
    wait_stage(page, "edit-saving", 0)
    assert stage(page, "edit-frame") == "crop"
    annotation.refresh_from_db()
    assert annotation.version == 2
    added = rle.decode(annotation.rle).astype(bool)
    assert iou(added, first | second) > 0.9, iou(added, first | second)
    ys, xs = np.nonzero(added)
    assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1

    # The whole image again: no outline, and SAM's subtract is decoded on the whole image.
    page.mouse.wheel(0, 700)
    wait_for_detail(page, "whole")
    assert stage(page, "detail-outline") == ""
    page.keyboard.down("Shift")
    page.mouse.click(*to_screen(page, *SECOND), button="right")
    page.keyboard.up("Shift")
    wait_stage(page, "edits", 2)
    wait_stage(page, "edit-saving", 0)
    assert stage(page, "edit-frame") == "image"
    annotation.refresh_from_db()
    removed = rle.decode(annotation.rle).astype(bool)
    assert (removed & second).sum() < 0.2 * second.sum()
    assert (removed & first).sum() > 0.9 * first.sum()

    # Zoomed in at the image's corner, the crop's box reaches the image's edges, which are
    # on screen: its outline is drawn there, dashed, and goes when the crop does.
    zoom_in_at(page, WIDTH - 0.5, HEIGHT - 0.5)
    wait_for_detail(page, "crop")
    corner = [int(v) for v in stage(page, "detail-box").split(",")]
    assert corner[2:] == [WIDTH, HEIGHT]
    assert stage(page, "detail-outline") == stage(page, "detail-box")
    sampled, black = page.evaluate(OUTLINE_PIXELS, corner)
    assert sampled > 100 and 0.25 < black / sampled < 0.85, (sampled, black)
    page.mouse.wheel(0, 700)
    wait_for_detail(page, "whole")
    assert stage(page, "detail-outline") == ""
    sampled, black = page.evaluate(OUTLINE_PIXELS, corner)
    assert sampled > 100 and black == 0, (sampled, black)
    assert [line for line in page.console_lines if "error" in line.lower()] == []
