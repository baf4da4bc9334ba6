"""Review issues and annotation history in the annotator, in a real browser with the real
MobileSAM embeddings: a reviewer pins a comment to a point of the image (I, then a
click) and rejects an annotation; the annotator gets the image back with both issues
shown, replies to one, is asked before submitting with issues open, resolves both,
replaces the annotation's mask (Shift+Enter) and submits; the reviewer opens the fixed
annotation's history and sees both versions, the newer marked as changed since review,
the older one outlined on the image."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.e2e.test_annotator import click, screen_point
from tests.e2e.test_annotator_queue import member, text, wait_for_image, wait_for_text
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.annotations.services import create_annotation
from webapp.reviews.models import AnnotationVersion, Issue
from webapp.workflow.models import WorkItem, WorkState

pytestmark = pytest.mark.django_db(transaction=True)


def stage_data(page: Any, name: str, wanted: str) -> None:
    """Until the stage's data attribute ``name`` is ``wanted``."""
    page.wait_for_function(
        f"() => document.getElementById('annotator-stage').dataset.{name} === {wanted!r}"
    )


def issue_row(page: Any, issue: Issue) -> Any:
    return page.locator(f"#annotator-issues li[data-issue-id='{issue.pk}']")


def test_a_point_issue_and_an_annotation_issue_go_round_to_a_fix_and_its_history(
    scene, signed_in, django_user_model
):
    s = scene("chelsea")
    chelsea = s.images["chelsea"]
    ann = member(s, "ann", "annotator", django_user_model)
    member(s, "rita", "reviewer", django_user_model)
    mask = np.zeros((chelsea.height, chelsea.width), dtype=bool)
    mask[40:120, 60:200] = True
    annotation = create_annotation(
        chelsea, author=ann, label_class=s.label.pk, rle=rle.encode(mask)
    )
    WorkItem.objects.filter(pk=chelsea.pk).update(state=WorkState.SUBMITTED, annotator=ann)

    # The reviewer pins a comment to a point: I, a click there, the comment.
    reviewer = signed_in(s.url, "rita")
    reviewer.goto(f"{s.url}/projects/{s.project.pk}/")
    reviewer.click("#start-reviewing")
    wait_for_image(reviewer, "chelsea.png")
    wait_for_text(reviewer, "#annotator-annotations", "by ann")
    assert "I, then a click" in text(reviewer, "#annotator-keys")
    reviewer.keyboard.press("i")
    stage_data(reviewer, "pinning", "1")
    reviewer.mouse.click(*screen_point(reviewer, chelsea, 330, 60))
    dialog = reviewer.locator("#annotator-reason")
    dialog.wait_for(state="visible")
    dialog.locator("input").fill("the second ear is not labelled")
    dialog.locator("input").press("Enter")
    stage_data(reviewer, "pins", "1")  # at once, before any reload
    wait_for_text(reviewer, "#annotator-issues", "rita at (")
    pinned = Issue.objects.get(image=chelsea)
    assert pinned.annotation_id is None and pinned.status == "open"
    assert abs(pinned.x - 330.5) < 3 and abs(pinned.y - 60.5) < 3, (pinned.x, pinned.y)
    assert pinned.comments.get().text == "the second ear is not labelled"

    # R on the annotation opens the second issue and rejects the image.
    reviewer.keyboard.press("r")
    dialog.wait_for(state="visible")
    dialog.locator("input").fill("the mask misses the cat's head")
    dialog.locator("input").press("Enter")
    reviewer.locator("#annotator-end").wait_for(state="visible")
    assert WorkItem.objects.get(pk=chelsea.pk).state == WorkState.REJECTED
    on_annotation = Issue.objects.get(image=chelsea, annotation=annotation)

    # The annotator gets the image back with both issues listed and pinned.
    page = signed_in(s.url, "ann")
    page.goto(f"{s.url}/projects/{s.project.pk}/")
    page.click("#start-labelling")
    wait_for_image(page, "chelsea.png")
    stage_data(page, "openIssues", "2")
    stage_data(page, "pins", "2")
    assert "the second ear is not labelled" in issue_row(page, pinned).text_content()
    assert "the mask misses the cat's head" in issue_row(page, on_annotation).text_content()
    assert "I, then a click" not in text(page, "#annotator-keys")  # annotators pin nothing

    # A reply in the point issue's thread.
    issue_row(page, pinned).get_by_role("button", name="thread").click()
    wait_for_text(page, f"#annotator-issues li[data-issue-id='{pinned.pk}']", "rita: the second")
    reply = issue_row(page, pinned).locator("input[name=reply]")
    reply.fill("that is the same ear, seen twice")
    reply.press("Enter")
    wait_for_text(
        page, f"#annotator-issues li[data-issue-id='{pinned.pk}']", "ann: that is the same ear"
    )
    assert [c.text for c in pinned.comments.all()] == [
        "the second ear is not labelled",
        "that is the same ear, seen twice",
    ]

    # Submitting with the issues open asks first; Esc keeps the image.
    page.keyboard.press("Control+Enter")
    confirm = page.locator("#annotator-confirm")
    confirm.wait_for(state="visible")
    assert "2 issues are still open — submit anyway?" in (confirm.text_content() or "")
    page.keyboard.press("Escape")
    wait_for_text(page, "#annotator-status", "Not submitted")
    assert WorkItem.objects.get(pk=chelsea.pk).state == WorkState.ANNOTATING

    # Both resolved: no open pin is left, and resolved ones show on demand.
    issue_row(page, pinned).get_by_role("button", name="resolve").click()
    stage_data(page, "openIssues", "1")
    issue_row(page, on_annotation).get_by_role("button", name="resolve").click()
    stage_data(page, "openIssues", "0")
    stage_data(page, "pins", "0")
    assert page.locator("#annotator-issues > li").count() == 0
    page.locator("#annotator-show-resolved").check()
    wait_for_text(page, "#annotator-issues", "(resolved by ann)")
    assert page.locator("#annotator-issues > li").count() == 2
    assert set(Issue.objects.filter(image=chelsea).values_list("status", flat=True)) == {"resolved"}

    # The mask is fixed: the annotation selected, a click on the cat, Shift+Enter.
    page.locator(f"#annotator-annotations li[data-annotation-id='{annotation.pk}'] span").click()
    click(page, chelsea, 200, 120)
    page.keyboard.press("Shift+Enter")
    wait_for_text(page, "#annotator-status", "mask replaced (version 2)")
    annotation.refresh_from_db()
    assert annotation.version == 2 and annotation.area != int(mask.sum())
    assert Annotation.objects.filter(image=chelsea).count() == 1
    assert AnnotationVersion.objects.filter(annotation=annotation).count() == 2

    # No issue is open now: Ctrl+Enter submits without asking.
    page.keyboard.press("Control+Enter")
    page.locator("#annotator-end").wait_for(state="visible")
    assert WorkItem.objects.get(pk=chelsea.pk).state == WorkState.SUBMITTED
    assert not [line for line in page.console_lines if line.startswith("pageerror")]

    # The reviewer opens the fixed annotation's history: two versions, the newer changed
    # since the rejection, the older outlined on the image.
    reviewer.goto(f"{s.url}/projects/{s.project.pk}/")
    reviewer.click("#start-reviewing")
    wait_for_image(reviewer, "chelsea.png")
    row = reviewer.locator(f"#annotator-annotations li[data-annotation-id='{annotation.pk}']")
    row.get_by_role("button", name="history").click()
    wait_for_text(reviewer, "#annotator-history-review", "last review: rejected by rita")
    versions = reviewer.locator("#annotator-history li")
    versions.nth(1).wait_for()
    assert versions.count() == 2
    newer, older = versions.nth(0), versions.nth(1)
    assert newer.get_attribute("data-version") == "2"
    assert newer.get_attribute("data-changed") == "1"
    assert "changed since review" in (newer.text_content() or "")
    assert "mask changed" in (newer.text_content() or "")
    assert older.get_attribute("data-version") == "1"
    assert older.get_attribute("data-changed") is None
    stage_data(reviewer, "ghost", "1")
    assert not [line for line in reviewer.console_lines if line.startswith("pageerror")]
