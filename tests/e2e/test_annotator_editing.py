"""Editing saved masks in a real browser: brush and eraser, SAM add and subtract, merge,
split, fill holes, the project's island removal, each saved as a new version (a
conflict is reported, never written over) and undone with Ctrl+Z."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import ndimage

from tests.e2e.test_annotator import annotate, click, reference_mask, save, screen_point
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.annotations.services import create_annotation, edit_annotation
from webapp.projects.models import LabelClass

pytestmark = pytest.mark.django_db(transaction=True)
EIGHT = np.ones((3, 3), dtype=bool)
# The island size of the island test: its mask's clicked part is ten times larger at
# least, and some other part smaller.
KEEP = 50


def rect_mask(image: Any, *boxes: tuple[int, int, int, int]) -> np.ndarray:
    """(H, W) uint8 with each box (x0, y0, x1, y1, exclusive ends) set."""
    mask = np.zeros((image.height, image.width), np.uint8)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = 1
    return mask


def saved(image: Any, owner: Any, label: Any, mask: np.ndarray) -> Annotation:
    return create_annotation(image, author=owner, label_class=label.pk, rle=rle.encode(mask))


def mask_of(annotation: Annotation) -> np.ndarray:
    annotation.refresh_from_db()
    return rle.decode(annotation.rle)


def stage(page: Any, name: str) -> str:
    return page.locator("#annotator-stage").get_attribute(f"data-{name}") or ""


def wait_stage(page: Any, name: str, value: object) -> None:
    """Until the stage's data-``name`` attribute reads ``value``."""
    key = "".join(part.capitalize() if i else part for i, part in enumerate(name.split("-")))
    page.wait_for_function(
        "([key, value]) => document.getElementById('annotator-stage').dataset[key] === value",
        arg=[key, str(value)],
    )


def wait_rows(page: Any, count: int) -> None:
    """Until the side panel lists ``count`` annotations."""
    page.wait_for_function(
        "(n) => document.querySelectorAll('#annotator-annotations li').length === n", arg=count
    )


def wait_saved(page: Any, edits: int) -> None:
    """Until ``edits`` edit steps are saved and none is under way."""
    wait_stage(page, "edits", edits)
    wait_stage(page, "edit-saving", 0)


def wait_version(annotation: Annotation, page: Any, version: int) -> None:
    """Until the list shows ``annotation`` at ``version`` (undo and redo are saves too,
    listed once the server answered)."""
    row = f'li[data-annotation-id="{annotation.pk}"][data-version="{version}"]'
    page.wait_for_selector(f"#annotator-annotations {row}", state="attached")
    annotation.refresh_from_db()
    assert annotation.version == version


def select(page: Any, image: Any, annotation: Annotation, x: float, y: float) -> None:
    """The select tool, a click on (x, y), which is on ``annotation``."""
    if stage(page, "edit-tool") != "select":
        page.keyboard.press("v")
    page.mouse.click(*screen_point(page, image, x, y))
    wait_stage(page, "edit-target", annotation.pk)


def drag(page: Any, image: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*screen_point(page, image, *start))
    page.mouse.down()
    page.mouse.move(*screen_point(page, image, *end), steps=12)
    page.mouse.up()


def test_brush_and_eraser_paint_new_versions_that_undo_and_redo(scene, signed_in):
    s, image, page = annotate(scene, signed_in, "coffee")
    annotation = saved(image, s.owner, s.label, rect_mask(image, (100, 100, 200, 200)))
    page.reload()
    page.wait_for_function(
        "() => document.getElementById('annotator-status').textContent.startsWith('Ready')"
    )

    page.keyboard.press("b")
    assert stage(page, "edit-tool") == "brush"
    page.mouse.click(*screen_point(page, image, 150, 150))  # nothing selected: selects
    wait_stage(page, "edit-target", annotation.pk)
    size = int(stage(page, "brush-size"))
    page.keyboard.press("]")
    assert int(stage(page, "brush-size")) > size
    drag(page, image, (250, 150), (330, 150))
    wait_saved(page, 1)
    painted = mask_of(annotation)
    assert annotation.version == 2
    assert painted[150, 250:330].all() and painted[100:200, 100:200].all()
    assert not painted[150, 345:].any() and not painted[300:, :].any()

    page.keyboard.press("e")
    drag(page, image, (150, 80), (150, 220))
    wait_saved(page, 2)
    erased = mask_of(annotation)
    assert annotation.version == 3
    assert not erased[100:200, 150].any()
    assert erased[100:200, 110].all() and erased[150, 250:330].all()

    page.keyboard.press("Control+z")
    wait_version(annotation, page, 4)
    assert np.array_equal(mask_of(annotation), painted)
    page.keyboard.press("Control+Shift+z")
    wait_version(annotation, page, 5)
    assert np.array_equal(mask_of(annotation), erased)
    assert list(annotation.versions.values_list("version", flat=True).order_by("version")) == [
        1, 2, 3, 4, 5,
    ]  # fmt: skip


def test_shift_click_adds_sams_region_and_shift_right_click_removes_it(scene, signed_in):
    s, image, page = annotate(scene, signed_in, "coffee")
    start = rect_mask(image, (20, 20, 60, 60))
    annotation = saved(image, s.owner, s.label, start)
    page.reload()
    page.wait_for_function(
        "() => document.getElementById('annotator-status').textContent.startsWith('Ready')"
    )
    select(page, image, annotation, 40, 40)
    page.keyboard.press("v")  # back to prompting: Shift+click still edits the selected
    assert stage(page, "edit-tool") == "none"

    page.keyboard.down("Shift")
    page.mouse.click(*screen_point(page, image, 290, 150))
    page.keyboard.up("Shift")
    wait_saved(page, 1)
    cup = reference_mask(image, [[290.5, 150.5]], [1]).astype(bool)
    added = mask_of(annotation).astype(bool)
    want = start.astype(bool) | cup
    assert (added ^ want).sum() <= 0.01 * want.sum()
    assert added[150, 290] and added[40, 40]

    page.keyboard.down("Shift")
    page.mouse.click(*screen_point(page, image, 290, 150), button="right")
    page.keyboard.up("Shift")
    wait_saved(page, 2)
    removed = mask_of(annotation).astype(bool)
    assert not removed[150, 290] and removed[40, 40]
    assert (removed ^ start.astype(bool)).sum() <= 0.01 * cup.sum()
    assert annotation.version == 3


def test_merge_makes_one_annotation_in_one_undo_step_and_refuses_other_classes(scene, signed_in):
    s, image, page = annotate(scene, signed_in, "coffee")
    a = saved(image, s.owner, s.label, rect_mask(image, (20, 20, 80, 80)))
    b = saved(image, s.owner, s.label, rect_mask(image, (200, 200, 260, 260)))
    other = LabelClass.objects.create(project=s.project, name="other", color="#ff0000")
    c = saved(image, s.owner, other, rect_mask(image, (400, 20, 450, 70)))
    page.reload()
    wait_rows(page, 3)

    select(page, image, a, 50, 50)
    page.keyboard.press("m")
    wait_stage(page, "merge-armed", 1)
    page.mouse.click(*screen_point(page, image, 420, 40))
    page.wait_for_function(
        "() => document.getElementById('annotator-status').textContent.includes('another class')"
    )
    assert Annotation.objects.filter(pk=c.pk).exists()

    page.keyboard.press("m")
    page.mouse.click(*screen_point(page, image, 230, 230))
    wait_saved(page, 1)
    assert not Annotation.objects.filter(pk=b.pk).exists()
    assert np.array_equal(mask_of(a), rect_mask(image, (20, 20, 80, 80), (200, 200, 260, 260)))
    wait_rows(page, 2)

    page.keyboard.press("Control+z")  # one step: b back, a as it was
    wait_rows(page, 3)
    wait_version(a, page, 3)
    assert np.array_equal(mask_of(a), rect_mask(image, (20, 20, 80, 80)))
    back = Annotation.objects.exclude(pk__in=[a.pk, c.pk]).get()
    assert np.array_equal(mask_of(back), rect_mask(image, (200, 200, 260, 260)))
    assert back.label_class_id == s.label.pk


def test_split_makes_an_annotation_of_each_part_and_undo_joins_them(scene, signed_in):
    s, image, page = annotate(scene, signed_in, "coffee")
    two = rect_mask(image, (20, 20, 120, 120), (300, 200, 340, 240))
    annotation = saved(image, s.owner, s.label, two)
    page.reload()
    wait_rows(page, 1)
    select(page, image, annotation, 50, 50)

    page.keyboard.press("s")
    wait_saved(page, 1)
    wait_rows(page, 2)
    assert np.array_equal(mask_of(annotation), rect_mask(image, (20, 20, 120, 120)))
    part = Annotation.objects.exclude(pk=annotation.pk).get()
    assert np.array_equal(mask_of(part), rect_mask(image, (300, 200, 340, 240)))
    assert part.label_class_id == annotation.label_class_id

    page.keyboard.press("Control+z")
    wait_rows(page, 1)
    wait_version(annotation, page, 3)
    assert np.array_equal(mask_of(annotation), two)
    assert Annotation.objects.count() == 1


def test_fill_holes_fills_the_selected_annotations_holes(scene, signed_in):
    s, image, page = annotate(scene, signed_in, "coffee")
    ring = rect_mask(image, (50, 50, 150, 150))
    ring[80:120, 80:120] = 0
    annotation = saved(image, s.owner, s.label, ring)
    page.reload()
    wait_rows(page, 1)
    select(page, image, annotation, 60, 60)

    page.keyboard.press("h")
    wait_saved(page, 1)
    assert np.array_equal(mask_of(annotation), rect_mask(image, (50, 50, 150, 150)))
    assert annotation.version == 2


def test_an_edit_of_an_annotation_someone_changed_is_reported_and_not_written(scene, signed_in):
    s, image, page = annotate(scene, signed_in, "coffee")
    annotation = saved(image, s.owner, s.label, rect_mask(image, (100, 100, 200, 200)))
    page.reload()
    wait_rows(page, 1)
    select(page, image, annotation, 150, 150)

    theirs = rect_mask(image, (300, 50, 380, 130))
    edit_annotation(annotation, 1, {"rle": rle.encode(theirs)}, editor=s.owner)  # meanwhile
    page.keyboard.press("b")
    drag(page, image, (160, 160), (240, 160))
    wait_stage(page, "edit-conflict", annotation.pk)
    wait_stage(page, "edit-saving", 0)
    status = page.locator("#annotator-status").text_content()
    assert "someone else changed" in status and "version 2" in status
    assert annotation.version == 2 and np.array_equal(mask_of(annotation), theirs)
    # The page now edits their version: the next stroke is saved over it, as version 3.
    drag(page, image, (320, 90), (320, 200))
    wait_saved(page, 1)
    edited = mask_of(annotation)
    assert annotation.version == 3 and edited[60:120, 300:380].all() and edited[180, 320]


def test_a_new_masks_islands_under_the_projects_size_are_removed_and_undo_restores_them(
    scene, signed_in
):
    s, image, page = annotate(scene, signed_in, "coffee")
    # A point of the photo whose mask (PyTorch's, on the stored embedding) has islands.
    found = None
    for y in range(40, image.height, 60):
        for x in range(40, image.width, 60):
            mask = reference_mask(image, [[x + 0.5, y + 0.5]], [1])
            labels, count = ndimage.label(mask, structure=EIGHT)
            areas = np.bincount(labels.ravel())[1:]
            if count >= 2 and mask[y, x] and areas.min() < KEEP <= areas[labels[y, x] - 1] // 10:
                found = (x, y, mask.astype(np.uint8), labels, areas)
                break
        if found:
            break
    assert found, "no point of the photo gives a mask with islands"
    x, y, raw, labels, areas = found
    keep = KEEP
    s.project.min_island_pixels = keep
    s.project.save()
    page.reload()
    page.wait_for_function(
        "() => document.getElementById('annotator-status').textContent.startsWith('Ready')"
    )

    click(page, image, x, y)
    save(page)
    page.wait_for_function(
        "() => document.getElementById('annotator-status').textContent.includes('island')"
    )
    status = page.locator("#annotator-status").text_content()
    annotation = Annotation.objects.get()
    kept = mask_of(annotation)
    assert annotation.version == 1 and kept[y, x]

    page.keyboard.press("Control+z")
    wait_version(annotation, page, 2)
    restored = mask_of(annotation).astype(bool)
    # Undo gave back the mask as decoded (PyTorch's, to a percent), and what was saved
    # first is that mask without exactly its parts under the project's size, as said.
    assert (restored ^ raw.astype(bool)).sum() <= 0.01 * raw.sum()
    parts, _ = ndimage.label(restored, structure=EIGHT)
    sizes = np.bincount(parts.ravel())
    small = sizes < keep
    small[0] = False
    assert small.any()
    assert np.array_equal(kept.astype(bool), restored & ~small[parts])
    removed = f"Removed {int(small.sum())} island{'s' if small.sum() > 1 else ''}"
    assert f"{removed} ({int(sizes[small].sum())} px) under {keep} px" in status
