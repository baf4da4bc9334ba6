"""Merge (M) in a real browser goes to the server as one request (POST .../merge/), so
the kept annotation's new mask and the other's deletion are stored together or not at
all; a conflict on the other annotation is reported and nothing is merged; undo of a
merge gives the kept mask back and re-creates the other in one request too (POST
.../unmerge/), redo merges again in one request."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.e2e.test_annotator import annotate, screen_point
from tests.e2e.test_annotator_editing import (
    mask_of,
    rect_mask,
    saved,
    select,
    wait_rows,
    wait_saved,
    wait_stage,
    wait_version,
)
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.annotations.services import edit_annotation

pytestmark = pytest.mark.django_db(transaction=True)

KEPT_BOX = (20, 20, 80, 80)
OTHER_BOX = (200, 200, 260, 260)


def annotation_writes(page: Any) -> list[str]:
    """``"METHOD path"`` of each write the page sends to the annotations API, appended
    as they go."""
    writes: list[str] = []

    def seen(request: Any) -> None:
        if request.method != "GET" and "/annotations/" in request.url:
            writes.append(f"{request.method} {request.url.split('://', 1)[1].split('/', 1)[1]}")

    page.on("request", seen)
    return writes


def test_a_merge_is_one_request_and_undoes_and_redoes(scene, signed_in):
    s, image, page = annotate(scene, signed_in, "coffee")
    a = saved(image, s.owner, s.label, rect_mask(image, KEPT_BOX))
    b = saved(image, s.owner, s.label, rect_mask(image, OTHER_BOX))
    page.reload()
    wait_rows(page, 2)
    writes = annotation_writes(page)

    select(page, image, a, 50, 50)
    page.keyboard.press("m")
    wait_stage(page, "merge-armed", 1)
    page.mouse.click(*screen_point(page, image, 230, 230))
    wait_saved(page, 1)
    wait_rows(page, 1)

    assert writes == [f"POST api/projects/{s.project.pk}/annotations/{a.pk}/merge/"]
    assert not Annotation.objects.filter(pk=b.pk).exists()
    assert np.array_equal(mask_of(a), rect_mask(image, KEPT_BOX, OTHER_BOX))
    assert a.version == 2
    wait_version(a, page, 2)

    page.keyboard.press("Control+z")  # b re-created, a's mask back as a new version
    wait_rows(page, 2)
    wait_version(a, page, 3)
    assert writes[1:] == [f"POST api/projects/{s.project.pk}/annotations/{a.pk}/unmerge/"]
    assert np.array_equal(mask_of(a), rect_mask(image, KEPT_BOX))
    back = Annotation.objects.exclude(pk=a.pk).get()
    assert np.array_equal(mask_of(back), rect_mask(image, OTHER_BOX))
    assert back.author == b.author

    undone = len(writes)
    page.keyboard.press("Control+Shift+z")  # merged again, in one request too
    wait_rows(page, 1)
    wait_version(a, page, 4)
    assert writes[undone:] == writes[:1]
    assert not Annotation.objects.filter(pk=back.pk).exists()
    assert np.array_equal(mask_of(a), rect_mask(image, KEPT_BOX, OTHER_BOX))
    assert Annotation.objects.count() == 1


def test_a_merge_with_an_annotation_changed_meanwhile_stores_nothing(scene, signed_in):
    s, image, page = annotate(scene, signed_in, "coffee")
    a = saved(image, s.owner, s.label, rect_mask(image, KEPT_BOX))
    b = saved(image, s.owner, s.label, rect_mask(image, OTHER_BOX))
    page.reload()
    wait_rows(page, 2)
    select(page, image, a, 50, 50)
    # Someone else edits b after this page listed it (at version 1).
    moved = rect_mask(image, (210, 210, 270, 270))
    edit_annotation(b, 1, {"rle": rle.encode(moved)}, editor=s.owner)

    page.keyboard.press("m")
    wait_stage(page, "merge-armed", 1)
    page.mouse.click(*screen_point(page, image, 230, 230))
    wait_stage(page, "edit-conflict", b.pk)
    wait_stage(page, "edit-saving", 0)

    page.wait_for_function(
        "() => document.getElementById('annotator-status').textContent.includes('someone else')"
    )
    assert np.array_equal(mask_of(a), rect_mask(image, KEPT_BOX))
    assert a.version == 1
    assert np.array_equal(mask_of(b), moved)
    assert b.version == 2
    wait_rows(page, 2)
    wait_stage(page, "edits", 0)
