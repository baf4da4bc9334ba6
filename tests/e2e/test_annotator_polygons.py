"""Polygon mode in a real browser: a saved mask with a hole opened as polygons (O), a
vertex dragged, one deleted, one added on an edge, saved (Enter) as a new version whose
stored mask is the sent polygon rasterised by the server's rasteriser (and equals the
browser's own), with the hole kept; Ctrl+Z afterwards gives the old mask back as the next
version; and a save over someone else's change is reported, not written."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tests.e2e.test_annotator import open_annotator, screen_point
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.annotations.services import create_annotation, edit_annotation

pytestmark = pytest.mark.django_db(transaction=True)

# An L-shaped object with a rectangular hole in its lower part (rows, columns inclusive).
TOP, BOTTOM, LEFT, RIGHT = 60, 200, 100, 250
NOTCH_RIGHT_OF, NOTCH_BELOW = 179, 120  # the top-right block (x > 179, y <= 120) is cut out
HOLE = (140, 180, 130, 160)  # rows 140-180, columns 130-160


def l_shape_with_hole(height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[TOP : BOTTOM + 1, LEFT : RIGHT + 1] = True
    mask[TOP : NOTCH_BELOW + 1, NOTCH_RIGHT_OF + 1 : RIGHT + 1] = False
    top, bottom, left, right = HOLE
    mask[top : bottom + 1, left : right + 1] = False
    return mask


def stage(page: Any, name: str) -> str | None:
    return page.locator("#annotator-stage").get_attribute(f"data-{name}")


def wait_stage(page: Any, name: str, wanted: str) -> None:
    """Until the stage's data attribute ``name`` (camelCase) is ``wanted``."""
    page.wait_for_function(
        f"() => document.getElementById('annotator-stage').dataset.{name} === {wanted!r}"
    )


def drag(page: Any, image: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*screen_point(page, image, *start))
    page.mouse.down()
    page.mouse.move(*screen_point(page, image, *end), steps=8)
    page.mouse.up()


def open_polygons(page: Any, annotation: Annotation) -> None:
    page.locator(f"#annotator-annotations li[data-annotation-id='{annotation.pk}'] span").click()
    page.keyboard.press("o")
    wait_stage(page, "polygonMode", "on")


def vertices(page: Any) -> int:
    return int(stage(page, "polygon-vertices") or 0)


def has_vertex(ring: list[float], x: float, y: float, within: float = 0.0) -> bool:
    return any(
        abs(ring[i] - x) <= within and abs(ring[i + 1] - y) <= within
        for i in range(0, len(ring), 2)
    )


def test_a_mask_edited_as_polygons_is_saved_as_the_servers_raster_of_the_polygon(scene, signed_in):
    s = scene("chelsea")
    chelsea = s.images["chelsea"]
    original = l_shape_with_hole(chelsea.height, chelsea.width)
    annotation = create_annotation(
        chelsea, author=s.owner, label_class=s.label.pk, rle=rle.encode(original)
    )
    page = signed_in(s.url, "owner")
    sent: list[Any] = []
    page.on(
        "request",
        lambda r: sent.append(json.loads(r.post_data or "{}")) if r.method == "PATCH" else None,
    )
    open_annotator(page, s.url, s.project, chelsea)
    page.locator(f"#annotator-annotations li[data-annotation-id='{annotation.pk}']").wait_for()
    open_polygons(page, annotation)
    # One outer ring and the hole's, traced from the mask.
    assert stage(page, "polygon-rings") == "oh"
    assert "O" in (page.locator("#annotator-keys").text_content() or "")
    page.locator("#annotator-polygon-section").wait_for(state="visible")
    start = vertices(page)

    # Drag the top-left corner up and left.
    drag(page, chelsea, (LEFT, TOP), (LEFT - 30, TOP - 25))
    wait_stage(page, "polygonDirty", "1")
    assert vertices(page) == start
    # Delete the bottom-right corner (right-click on it).
    page.mouse.click(*screen_point(page, chelsea, RIGHT, BOTTOM), button="right")
    page.wait_for_function(
        "() => Number(document.getElementById('annotator-stage').dataset.polygonVertices)"
        f" === {start - 1}"
    )
    # Add a vertex on the edge that now runs from the notch's lower-right corner to the
    # bottom-left corner: a press on its middle, dragged down.
    mid = ((LEFT + RIGHT) / 2, (BOTTOM + NOTCH_BELOW + 1) / 2)
    drag(page, chelsea, mid, (mid[0] + 10, mid[1] + 60))
    page.wait_for_function(
        "() => Number(document.getElementById('annotator-stage').dataset.polygonVertices)"
        f" === {start}"
    )

    page.keyboard.press("Enter")
    wait_stage(page, "polygonSaves", "1")
    assert stage(page, "polygon-server-match") == "1"  # the browser drew the server's pixels

    polygons = sent[-1]["polygons"]
    outer, hole = polygons[0], polygons[1]
    assert has_vertex(outer, LEFT - 30, TOP - 25)
    assert not has_vertex(outer, LEFT, TOP) and not has_vertex(outer, RIGHT, BOTTOM)
    assert has_vertex(outer, mid[0] + 10, mid[1] + 60, within=2)
    annotation.refresh_from_db()
    assert annotation.version == 2
    stored = rle.decode(annotation.rle)
    assert np.array_equal(stored, rle.polygon_to_mask(polygons, chelsea.height, chelsea.width))
    # The hole survived; the dragged corner and the new vertex's area are inside now.
    top, bottom, left, right = HOLE
    assert not stored[top : bottom + 1, left : right + 1].any()
    assert stored[TOP - 20, LEFT - 20 : LEFT - 10].all()
    assert stored[BOTTOM + 10, int(mid[0]) + 10]
    assert len(hole) == 8  # a rectangle's four corners

    # Ctrl+Z in polygon mode steps back through the vertex edits...
    page.keyboard.press("Control+z")
    wait_stage(page, "polygonDirty", "1")
    page.keyboard.press("Control+Shift+z")
    wait_stage(page, "polygonDirty", "0")
    # ... and, out of it, undoes the saved edit: the old mask comes back as version 3.
    page.keyboard.press("Escape")
    wait_stage(page, "polygonMode", "off")
    page.keyboard.press("Control+z")
    page.wait_for_function(
        "() => document.getElementById('annotator-status').textContent.includes('Undone')"
    )
    annotation.refresh_from_db()
    assert annotation.version == 3
    assert np.array_equal(rle.decode(annotation.rle), original)
    assert not [line for line in page.console_lines if line.startswith("pageerror")]


def test_a_polygon_saved_over_someone_elses_change_is_reported_and_not_written(scene, signed_in):
    s = scene("chelsea")
    chelsea = s.images["chelsea"]
    annotation = create_annotation(
        chelsea,
        author=s.owner,
        label_class=s.label.pk,
        rle=rle.encode(l_shape_with_hole(chelsea.height, chelsea.width)),
    )
    page = signed_in(s.url, "owner")
    open_annotator(page, s.url, s.project, chelsea)
    page.locator(f"#annotator-annotations li[data-annotation-id='{annotation.pk}']").wait_for()
    open_polygons(page, annotation)
    drag(page, chelsea, (LEFT, TOP), (LEFT - 30, TOP - 25))
    wait_stage(page, "polygonDirty", "1")

    # Someone else saves a new mask meanwhile.
    theirs = np.zeros((chelsea.height, chelsea.width), dtype=bool)
    theirs[10:50, 10:90] = True
    edit_annotation(annotation, 1, {"rle": rle.encode(theirs)}, editor=s.owner)

    page.keyboard.press("Enter")
    wait_stage(page, "polygonConflicts", "1")
    assert "someone changed this annotation" in (
        page.locator("#annotator-status").text_content() or ""
    )
    annotation.refresh_from_db()
    assert annotation.version == 2
    assert np.array_equal(rle.decode(annotation.rle), theirs)
    # The polygon is kept for the user, still unsaved.
    assert stage(page, "polygon-mode") == "on" and stage(page, "polygon-dirty") == "1"
