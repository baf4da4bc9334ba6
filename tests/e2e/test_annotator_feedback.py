"""The annotator tells the truth about what is on screen: classes however the page's
requests answer, the class chosen, the candidate shown, the keys, the outlines of masks,
and the server's own words when it cannot start."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.e2e.test_annotator import (
    annotate,
    canvas_rgb,
    click,
    decodes,
    exact_on_screen,
    open_annotator,
    save,
    wait_for_mask_after,
)
from webapp.annotations import rle
from webapp.annotations.models import Annotation

pytestmark = pytest.mark.django_db(transaction=True)

CUP_COLOUR = np.array([0xFF, 0x40, 0x00], dtype=float)


def add_cup_class(project: Any) -> Any:
    """A second class, so that "the first class" and "the class chosen" differ."""
    from webapp.projects.models import LabelClass

    return LabelClass.objects.create(project=project, name="cup", color="#ff4000", shortcut="c")


def current_class(page: Any) -> str:
    return page.locator("#annotator-labels .label.current").get_attribute("data-label-class")


def test_saved_masks_keep_their_class_when_the_classes_answer_last(scene, signed_in):
    s = scene("coffee")
    image = s.images["coffee"]
    cup = add_cup_class(s.project)
    page = signed_in(s.url, "owner")
    open_annotator(page, s.url, s.project, image)
    inside = (290, 150)
    plain = canvas_rgb(page, image, *inside)
    page.keyboard.press("c")
    click(page, image, *inside)
    save(page)
    saved = Annotation.objects.get(image=image)
    assert saved.label_class == cup

    # The label classes answer only after the annotations have. (The mouse leaves the
    # image, so that no mask of a resting cursor covers the saved one after the reload.)
    page.mouse.move(5, 5)
    held: list[Any] = []
    page.route(f"**/api/projects/{s.project.pk}/label-classes/", lambda route: held.append(route))
    annotations_url = f"/api/projects/{s.project.pk}/images/{image.pk}/annotations/"
    with page.expect_response(lambda r: r.url.endswith(annotations_url)) as listed:
        page.goto(f"{s.url}/projects/{s.project.pk}/images/{image.pk}/annotate/")
    assert listed.value.ok
    assert len(held) == 1
    assert page.locator("#annotator-annotations li").count() == 0  # not without its class
    held[0].continue_()

    page.wait_for_function(
        "() => document.getElementById('annotator-status').textContent.startsWith('Ready')"
    )
    assert page.locator("#annotator-annotations li").count() == 1
    row = page.locator("#annotator-annotations li").first
    assert row.get_attribute("data-label-class") == str(cup.pk)
    assert row.locator("select").input_value() == str(cup.pk)
    assert row.locator("select option").count() == 2
    colour = row.locator("span").evaluate("e => getComputedStyle(e).borderLeftColor")
    assert colour == "rgb(255, 64, 0)"
    assert page.locator("#annotator-stage").get_attribute("data-live") == "0"
    tinted = canvas_rgb(page, image, *inside)
    assert np.abs(tinted - (0.55 * plain + 0.45 * CUP_COLOUR)).max() <= 3
    assert current_class(page) == str(cup.pk)  # the class last chosen, remembered


def test_the_class_last_chosen_comes_back_after_a_reload(scene, signed_in):
    s, image, page = annotate(scene, signed_in, "coffee")
    cup = add_cup_class(s.project)
    open_annotator(page, s.url, s.project, image)  # again, to list the new class
    assert current_class(page) == str(s.label.pk)  # nothing chosen yet: the first
    page.locator("#annotator-labels .label", has_text="cup").click()
    assert current_class(page) == str(cup.pk)

    open_annotator(page, s.url, s.project, image)
    assert current_class(page) == str(cup.pk)
    click(page, image, 290, 150)
    save(page)
    assert Annotation.objects.get(image=image).label_class == cup


def test_tab_cycles_candidates_and_never_focuses_a_class_button(scene, signed_in):
    s, image, page = annotate(scene, signed_in, "coffee")
    cup = add_cup_class(s.project)
    open_annotator(page, s.url, s.project, image)
    page.locator("#annotator-labels .label", has_text="cup").click()  # by mouse
    click(page, image, 290, 150)
    exact_on_screen(page)  # SAM's ranking of the candidates no longer changes
    stage = page.locator("#annotator-stage")
    first = int(stage.get_attribute("data-candidate"))
    assert f"candidate {first} of 3" in page.locator("#annotator-candidate").text_content()
    seen = []
    for _ in range(4):
        page.keyboard.press("Tab")
        seen.append(int(stage.get_attribute("data-candidate")))
        focused = page.evaluate("document.activeElement.tagName")
        assert focused not in ("BUTTON", "SELECT", "A"), focused
    assert seen == [first % 3 + 1, (first + 1) % 3 + 1, first, first % 3 + 1]
    assert f"candidate {seen[-1]} of 3" in page.locator("#annotator-candidate").text_content()

    save(page)
    assert Annotation.objects.get(image=image).label_class == cup
    assert page.locator("#annotator-candidate").text_content() == ""  # no prompt now
    # Two points leave one mask: no candidates to show.
    click(page, image, 290, 150)
    click(page, image, 200, 120)
    assert stage.get_attribute("data-candidate") == ""


def test_the_delete_key_deletes_the_selected_annotation_and_is_in_the_key_help(scene, signed_in):
    _, image, page = annotate(scene, signed_in, "coffee")
    help_text = page.locator("#annotator-keys").text_content()
    for keys in ("Enter", "Esc", "Tab", "1–3", "Ctrl+Z", "← / →", "Delete", "Space"):
        assert keys in help_text, keys
    click(page, image, 290, 150)
    save(page)
    page.locator("#annotator-annotations li span").first.click()
    page.wait_for_function("() => document.querySelector('#annotator-annotations li.selected')")
    page.keyboard.press("Delete")
    page.wait_for_function(
        "() => document.querySelectorAll('#annotator-annotations li').length === 0"
    )
    assert not Annotation.objects.filter(image=image).exists()
    assert "Deleted" in page.locator("#annotator-status").text_content()


def test_a_start_up_failure_shows_the_servers_message(scene, signed_in):
    s = scene("coffee")
    image = s.images["coffee"]
    page = signed_in(s.url, "owner")
    detail = "The decoder files are missing: run make setup."
    page.route(
        "**/decoder/manifest.json",
        lambda route: route.fulfill(status=503, json={"detail": detail}),
    )
    page.goto(f"{s.url}/projects/{s.project.pk}/images/{image.pk}/annotate/")
    page.wait_for_function(
        "() => document.getElementById('annotator-status').classList.contains('error')"
    )
    status = page.locator("#annotator-status").text_content()
    assert status == f"Cannot start the annotator: {detail}"


def view_transform(page: Any) -> tuple[float, float, float]:
    """The view's transform: canvas pixel = image pixel × scale + offset."""
    data = page.locator("#annotator-stage").evaluate("e => ({...e.dataset})")
    return float(data["scale"]), float(data["offsetX"]), float(data["offsetY"])


def page_point(page: Any, x: float, y: float) -> tuple[float, float]:
    """Image pixel (x, y)'s centre on the page, at the view's zoom and pan now."""
    scale, dx, dy = view_transform(page)
    box = page.locator(".annotator-canvas").bounding_box()
    return box["x"] + (x + 0.5) * scale + dx, box["y"] + (y + 0.5) * scale + dy


def zoom_in_at(page: Any, x: float, y: float) -> None:
    """One wheel step towards image pixel (x, y), without moving the mouse (a resting
    cursor would show the mask under it)."""
    before = view_transform(page)[0]
    page.locator(".annotator-canvas").evaluate(
        """(canvas, [x, y]) => canvas.dispatchEvent(new WheelEvent('wheel',
            {clientX: x, clientY: y, deltaY: -500, cancelable: true, bubbles: true}))""",
        list(page_point(page, x, y)),
    )
    page.wait_for_function(
        f"() => Number(document.getElementById('annotator-stage').dataset.scale) > {before * 2}"
    )


def outline_pixels(page: Any, edge_x: float, y: float, colour: np.ndarray) -> int:
    """How many canvas pixels, along a row across the mask's edge at image (edge_x, y),
    show ``colour`` as it is (a fill is blended with the image under it)."""
    scale, dx, dy = view_transform(page)
    sx, sy = edge_x * scale + dx, (y + 0.5) * scale + dy
    half = int(3 * scale) + 10
    row = page.evaluate(
        """([x, y, w]) => Array.from(document.querySelector('.annotator-canvas')
            .getContext('2d').getImageData(x, y, w, 1).data)""",
        [int(sx) - half, int(sy), 2 * half],
    )
    pixels = np.array(row, dtype=float).reshape(-1, 4)[:, :3]
    return int((np.abs(pixels - colour).max(axis=1) <= 12).sum())


def test_masks_are_outlined_in_their_class_colour_as_thin_at_every_zoom(scene, signed_in):
    _, image, page = annotate(scene, signed_in, "coffee")
    colour = np.array([0x00, 0xA0, 0xFF], dtype=float)  # the scene's class colour
    click(page, image, 290, 150)
    save(page)
    page.wait_for_function("() => document.getElementById('annotator-stage').dataset.live === '0'")
    mask = rle.decode(Annotation.objects.get(image=image).rle)
    # A row where the mask's left edge runs straight down, a pixel above and below.
    rows = [
        y
        for y in range(5, mask.shape[0] - 5)
        if mask[y].any() and len({int(np.argmax(mask[y + d])) for d in (-1, 0, 1)}) == 1
    ]
    assert rows, "no straight stretch of edge to measure"
    y = rows[len(rows) // 2]
    edge_x = float(np.argmax(mask[y]))

    counts = [outline_pixels(page, edge_x, y, colour)]
    for _ in range(2):  # about e times closer, twice
        zoom_in_at(page, edge_x, y)
        counts.append(outline_pixels(page, edge_x, y, colour))
    # A line 2 screen pixels wide: one or two pixels in full colour, at every zoom (an
    # outline in image pixels would be about 17 screen pixels wide at the last zoom).
    assert all(1 <= c <= 3 for c in counts), counts

    # The live mask is outlined too (the saved one hidden, so as not to count it).
    row = page.locator("#annotator-annotations li").first
    row.get_by_role("button", name="hide").click()
    row.get_by_role("button", name="show").wait_for()
    assert outline_pixels(page, edge_x, y, colour) == 0
    shown = decodes(page)
    page.mouse.click(*page_point(page, edge_x + 3, y))
    wait_for_mask_after(page, shown)
    assert outline_pixels(page, edge_x, y, colour) >= 1
