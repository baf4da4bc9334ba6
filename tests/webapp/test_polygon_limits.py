"""Masks sent as polygons: each ring is rasterised within its own box, the pixels are
those a full-size canvas per ring gives, and a mask of more rings or points than any
outline needs is a 400 (API) or a problem (import) that says so.

Before, each of 20,001 tiny rings on a 4000x3000 image allocated full-size canvases
(71 s); the memory tests below measure what one rasterisation allocates.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageDraw

from tests.webapp.factories_annotations import make_image, make_label_class
from tests.webapp.factories_imports import annotation, coco_document, json_file, post_import
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.imports.polygons import rings_to_mask

WIDTH, HEIGHT = 4000, 3000


def tiny_rings(count: int) -> list[list[float]]:
    """``count`` triangles of a few pixels, spread over a WIDTH x HEIGHT image."""
    rings = []
    for n in range(count):
        x, y = (n * 37) % (WIDTH - 4), (n * 53) % (HEIGHT - 4)
        rings.append([x, y, x + 3.5, y, x, y + 3.5])
    return rings


# The rasterisers as they were: a full-size canvas for every ring.


def full_canvas_even_odd(rings: list[list[float]], height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    for ring in rings:
        canvas = PILImage.new("1", (width, height), 0)
        ImageDraw.Draw(canvas).polygon(list(map(float, ring)), fill=1, outline=1)
        mask ^= np.asarray(canvas, dtype=bool)
    return mask


def full_canvas_union(rings: list[list[float]], height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    for ring in rings:
        points = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
        x0, y0 = points[:, 0], points[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        first = np.clip(np.ceil(np.minimum(y0, y1) - 0.5), 0, height).astype(np.int64)
        last = np.clip(np.ceil(np.maximum(y0, y1) - 0.5), 0, height).astype(np.int64)
        spans = np.maximum(last - first, 0)
        if not spans.sum():
            continue
        edge = np.repeat(np.arange(points.shape[0]), spans)
        rows = np.repeat(first - np.cumsum(spans) + spans, spans) + np.arange(spans.sum())
        t = (rows + 0.5 - y0[edge]) / (y1[edge] - y0[edge])
        crossings = x0[edge] + t * (x1[edge] - x0[edge])
        order = np.lexsort((crossings, rows))
        rows, crossings = rows[order], crossings[order]
        starts = np.clip(np.ceil(crossings[0::2] - 0.5), 0, width).astype(np.int64)
        ends = np.clip(np.ceil(crossings[1::2] - 0.5), 0, width).astype(np.int64)
        change = np.zeros((height, width + 1), dtype=np.int64)
        np.add.at(change, (rows[0::2], starts), 1)
        np.add.at(change, (rows[1::2], ends), -1)
        mask |= np.cumsum(change, axis=1)[:, :width] > 0
    return mask


def random_rings(rng: np.random.Generator, height: int, width: int) -> list[list[float]]:
    """A few rings of 3 to 12 points: whole, half and arbitrary coordinates, some
    reaching past every edge of the image, some wholly outside it."""
    rings = []
    for _ in range(int(rng.integers(1, 5))):
        points = int(rng.integers(3, 13))
        centre = rng.uniform([-10, -10], [width + 10, height + 10])
        spread = rng.uniform(1, max(height, width, 4) / 2)
        xy = centre + rng.uniform(-spread, spread, size=(points, 2))
        kind = rng.integers(0, 3)
        if kind == 0:
            xy = np.round(xy)
        elif kind == 1:
            xy = np.round(xy * 2) / 2
        rings.append(xy.ravel().tolist())
    return rings


@pytest.mark.parametrize("seed", range(300))
def test_box_rasterisers_give_the_pixels_of_full_size_canvases(seed: int) -> None:
    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(1, 70)), int(rng.integers(1, 70))
    rings = random_rings(rng, height, width)

    assert np.array_equal(
        rle.polygon_to_mask(rings, height, width), full_canvas_even_odd(rings, height, width)
    )
    assert np.array_equal(
        rings_to_mask(rings, height, width), full_canvas_union(rings, height, width)
    )


def test_many_small_rings_allocate_little_beyond_the_mask() -> None:
    rings = tiny_rings(1000)
    mask_bytes = WIDTH * HEIGHT  # one bool per pixel
    for rasterise in (rle.polygon_to_mask, rings_to_mask):
        tracemalloc.start()
        try:
            mask = rasterise(rings, HEIGHT, WIDTH)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert mask.sum() > 1000
        assert peak < mask_bytes * 1.5, f"{rasterise.__name__}: {peak:,} bytes"


@pytest.mark.parametrize(
    ("rings", "message"),
    [
        (tiny_rings(20_001), "20,001 polygons; a mask may have at most 1,000"),
        (
            [[float(v) for _ in range(250) for v in (10, 10, 20, 10, 20, 20, 10, 20)]] * 101,
            "101,000 polygon points; a mask may have at most 100,000",
        ),
    ],
    ids=["rings", "points"],
)
def test_too_many_rings_or_points_are_refused_by_both_rasterisers(
    rings: list[list[float]], message: str
) -> None:
    for rasterise in (rle.polygon_to_mask, rings_to_mask):
        with pytest.raises(rle.InvalidMask, match=message):
            rasterise(rings, HEIGHT, WIDTH)


@pytest.mark.django_db
def test_the_api_answers_400_to_a_mask_of_20001_rings(
    make_user: Any, make_project: Any, api_client: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    owner = make_user("owner")
    project = make_project(owner=owner)
    image = make_image(project, WIDTH, HEIGHT)
    label = make_label_class(project)
    body = {"label_class": label.pk, "polygons": tiny_rings(20_001)}

    response = api_client(owner).post(
        f"/api/projects/{project.pk}/images/{image.pk}/annotations/",
        json.dumps(body),
        content_type="application/json",
    )

    assert response.status_code == 400, response.content[:300]
    assert "at most 1,000" in str(response.json())
    assert not Annotation.objects.exists()


@pytest.mark.django_db
def test_an_import_names_the_annotation_with_too_many_rings(
    make_project: Any, user_in: Any, api_client: Any, media_root: Path
) -> None:
    from tests.webapp.factories_imports import store_image

    project = make_project(name="Rings")
    owner = api_client(user_in(project, "owner"))
    store_image(project)
    rings = [[1, 1, 3, 1, 1, 3]] * 1001
    document = coco_document(
        [annotation(segmentation=rings)], images=[{"id": 1, "file_name": "photo.png"}]
    )

    response = post_import(owner, project, json_file(document))

    assert response.status_code == 400
    (problem,) = response.json()["problems"]
    assert (problem["record"], problem["field"]) == ("annotations[0]", "segmentation")
    assert "1,001 polygons; a mask may have at most 1,000" in problem["problem"]


def test_rings_that_together_cover_the_image_too_many_times_are_refused() -> None:
    from webapp.annotations.rle import MAX_DRAWN_IMAGES, InvalidMask, polygon_to_mask

    def whole(height: int, width: int) -> list[float]:
        return [0.0, 0.0, float(width), 0.0, float(width), float(height), 0.0, float(height)]

    with pytest.raises(InvalidMask, match="times the image"):
        polygon_to_mask([whole(3000, 4000)] * 1000, 3000, 4000)
    # Up to the bound they are drawn, by the even-odd rule: an odd count of the same ring
    # fills the image, an even count leaves it empty.
    odd = polygon_to_mask([whole(30, 40)] * (MAX_DRAWN_IMAGES - 1), 30, 40)
    even = polygon_to_mask([whole(30, 40)] * (MAX_DRAWN_IMAGES - 2), 30, 40)
    assert odd.all()
    assert not even.any()
