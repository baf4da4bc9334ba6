"""The annotator as a work queue, in a real browser with the real MobileSAM embeddings:
an annotator presses "Start labelling", labels, submits with Ctrl+Enter and lands on
the next image of their queue until its end (or submits an image opened on its own and
stays on it); a reviewer presses "Start reviewing",
accepts one image with A and rejects another with R and a comment, and the annotator
gets that image back with the issue pinned on it."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from tests.e2e.conftest import PASSWORD
from tests.e2e.test_annotator import click, save
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.workflow.models import ActiveTime, WorkItem, WorkState

pytestmark = pytest.mark.django_db(transaction=True)

READY = "() => document.getElementById('annotator-status')?.textContent.startsWith('Ready')"


def member(scene: Any, username: str, role: str, django_user_model: Any) -> Any:
    from webapp.projects.models import Membership

    user = django_user_model.objects.create_user(username, password=PASSWORD)
    Membership.objects.create(project=scene.project, user=user, role=role)
    return user


def text(page: Any, selector: str) -> str:
    return page.locator(selector).text_content() or ""


def wait_for_image(page: Any, name: str) -> None:
    """Until the annotator shows ``name`` and it is clickable."""
    page.wait_for_function(
        f"() => document.getElementById('annotator-image-name')?.textContent === {name!r}"
    )
    page.wait_for_function(READY, timeout=60_000)


def wait_for_text(page: Any, selector: str, wanted: str) -> None:
    page.wait_for_function(
        f"() => (document.querySelector({selector!r})?.textContent || '').includes({wanted!r})"
    )


def test_an_annotator_works_through_the_queue_to_its_end(scene, signed_in, django_user_model):
    s = scene("coffee", "chelsea", "astronaut")
    coffee, chelsea, astronaut = (s.images[n] for n in ("coffee", "chelsea", "astronaut"))
    member(s, "ann", "annotator", django_user_model)
    page = signed_in(s.url, "ann")

    page.goto(f"{s.url}/projects/{s.project.pk}/")
    page.click("#start-labelling")
    wait_for_image(page, "coffee.png")
    assert "queue=annotate" in page.url
    wait_for_text(page, "#annotator-queue-position", "image 1 of 3 in my queue")
    wait_for_text(page, "#annotator-work-state", "being labelled by you")
    assert "Ctrl+Enter" in text(page, "#annotator-keys")
    assert WorkItem.objects.get(pk=coffee.pk).state == WorkState.ANNOTATING

    # A mask, saved; then Ctrl+Enter submits and the next image opens at once.
    click(page, coffee, 290, 150)
    save(page)
    page.keyboard.press("Control+Enter")
    wait_for_image(page, "chelsea.png")
    wait_for_text(page, "#annotator-queue-position", "image 2 of 3 in my queue")
    assert f"/images/{chelsea.pk}/annotate/?queue=annotate" in page.url
    item = WorkItem.objects.get(pk=coffee.pk)
    assert (item.state, item.annotator.username) == (WorkState.SUBMITTED, "ann")
    assert Annotation.objects.filter(image=coffee).count() == 1
    assert WorkItem.objects.get(pk=chelsea.pk).state == WorkState.ANNOTATING

    # An unsaved mask is not left behind by a submit.
    click(page, chelsea, 200, 120)
    page.keyboard.press("Control+Enter")
    wait_for_text(page, "#annotator-status", "before submitting")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Enter")
    wait_for_image(page, "astronaut.png")
    wait_for_text(page, "#annotator-queue-position", "image 3 of 3 in my queue")

    # → on the project's last image says so instead of doing nothing.
    page.keyboard.press("ArrowRight")
    wait_for_text(page, "#annotator-status", "Last image of Kitchen.")

    page.keyboard.press("Control+Enter")
    end = page.locator("#annotator-end")
    end.wait_for(state="visible")
    assert "Nothing left to label for you" in text(page, "#annotator-end-message")
    assert end.locator("a").get_attribute("href") == f"/projects/{s.project.pk}/"
    assert WorkItem.objects.get(pk=astronaut.pk).state == WorkState.SUBMITTED
    assert not [line for line in page.console_lines if line.startswith("pageerror")]

    # Leaving the page reports the time spent clicking and pressing keys.
    end.locator("a").click()
    page.wait_for_url(f"{s.url}/projects/{s.project.pk}/")
    deadline = time.monotonic() + 10
    while not ActiveTime.objects.filter(user__username="ann").exists():
        assert time.monotonic() < deadline, "no active time was reported"
        time.sleep(0.2)
    assert ActiveTime.objects.get(user__username="ann", project=s.project).seconds >= 1


def test_an_image_opened_on_its_own_is_submitted_where_it_is(scene, signed_in, django_user_model):
    s = scene("coffee", "chelsea")
    coffee = s.images["coffee"]
    member(s, "ann", "annotator", django_user_model)
    page = signed_in(s.url, "ann")
    # Opened from the gallery, not through "Start labelling".
    page.goto(f"{s.url}/projects/{s.project.pk}/images/{coffee.pk}/annotate/")
    wait_for_image(page, "coffee.png")
    wait_for_text(page, "#annotator-work-state", "new")
    assert not page.locator("#annotator-submit").is_visible()

    # Saving starts the image for her, and Submit shows without reloading the page.
    click(page, coffee, 290, 150)
    save(page)
    wait_for_text(page, "#annotator-work-state", "being labelled by you")
    page.locator("#annotator-submit").wait_for(state="visible")
    assert WorkItem.objects.get(pk=coffee.pk).state == WorkState.ANNOTATING

    page.keyboard.press("Control+Enter")
    wait_for_text(page, "#annotator-work-state", "submitted (labelled by you)")
    wait_for_text(page, "#annotator-status", "Submitted coffee.png.")
    item = WorkItem.objects.get(pk=coffee.pk)
    assert (item.state, item.annotator.username) == (WorkState.SUBMITTED, "ann")
    # Outside a queue the page stays on the image, and Submit goes with the hold.
    assert f"/images/{coffee.pk}/annotate/" in page.url
    assert text(page, "#annotator-image-name") == "coffee.png"
    assert not page.locator("#annotator-submit").is_visible()
    assert WorkItem.objects.get(pk=s.images["chelsea"].pk).state == WorkState.NEW


def submitted_with_an_annotation(s: Any, image: Any, ann: Any) -> Annotation:
    mask = np.zeros((image.height, image.width), dtype=bool)
    mask[40:120, 60:200] = True
    encoded = rle.encode(mask)
    annotation = Annotation.objects.create(
        image=image, label_class=s.label, rle=encoded, bbox=rle.bbox(encoded),
        area=rle.area(encoded), author=ann, last_editor=ann,
    )  # fmt: skip
    WorkItem.objects.filter(pk=image.pk).update(state=WorkState.SUBMITTED, annotator=ann)
    return annotation


def test_a_reviewer_accepts_one_image_and_rejects_another_with_keys(
    scene, signed_in, django_user_model
):
    s = scene("coffee", "chelsea")
    coffee, chelsea = s.images["coffee"], s.images["chelsea"]
    ann = member(s, "ann", "annotator", django_user_model)
    member(s, "rita", "reviewer", django_user_model)
    submitted_with_an_annotation(s, coffee, ann)
    wrong = submitted_with_an_annotation(s, chelsea, ann)
    page = signed_in(s.url, "rita")

    page.goto(f"{s.url}/projects/{s.project.pk}/")
    page.click("#start-reviewing")
    wait_for_image(page, "coffee.png")
    wait_for_text(page, "#annotator-queue-position", "image 1 of 2 in my review queue")
    wait_for_text(page, "#annotator-work-state", "in review by you")
    wait_for_text(page, "#annotator-annotations", "by ann")
    assert "A / R" in text(page, "#annotator-keys")

    # A accepts the only annotation, which accepts the image and opens the next.
    page.keyboard.press("a")
    wait_for_image(page, "chelsea.png")
    wait_for_text(page, "#annotator-queue-position", "image 2 of 2 in my review queue")
    item = WorkItem.objects.get(pk=coffee.pk)
    assert (item.state, item.reviewer.username) == (WorkState.ACCEPTED, "rita")

    # R asks what is wrong; the comment opens an issue on the annotation and is the reason.
    wait_for_text(page, "#annotator-annotations", "by ann")
    page.keyboard.press("r")
    dialog = page.locator("#annotator-reason")
    dialog.wait_for(state="visible")
    dialog.locator("input").fill("the mask misses the cat's ears")
    dialog.locator("input").press("Enter")
    page.locator("#annotator-end").wait_for(state="visible")
    assert "Nothing left to review" in text(page, "#annotator-end-message")
    item = WorkItem.objects.get(pk=chelsea.pk)
    assert item.state == WorkState.REJECTED
    assert "the mask misses the cat's ears" in item.reason
    assert f"#{wrong.pk}" in item.reason
    from webapp.reviews.models import Issue

    issue = Issue.objects.get(image=chelsea)
    assert issue.annotation_id == wrong.pk and issue.status == "open"
    assert issue.comments.get().text == "the mask misses the cat's ears"
    assert not [line for line in page.console_lines if line.startswith("pageerror")]

    # The annotator gets the image back first, with the issue pinned on the annotation.
    annotator = signed_in(s.url, "ann")
    annotator.goto(f"{s.url}/projects/{s.project.pk}/")
    annotator.click("#start-labelling")
    wait_for_image(annotator, "chelsea.png")
    wait_for_text(annotator, "#annotator-issues", "rita on #")
    wait_for_text(annotator, "#annotator-issues", "the mask misses the cat's ears")
    annotator.wait_for_function(
        "() => document.getElementById('annotator-stage').dataset.pins === '1'"
    )
    wait_for_text(annotator, "#annotator-work-state", "being labelled by you")
