"""The whole team loop in Chromium, with the real MobileSAM embeddings: a manager gives
out images on the project page, an annotator labels and submits them, a reviewer rejects
one with an issue and accepts the other, the annotator fixes the rejected one and submits
it again, the reviewer accepts it, and the manager's export holds exactly the accepted
images."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from tests.e2e.test_annotator import click, save
from tests.e2e.test_annotator_queue import member, text, wait_for_image, wait_for_text
from webapp.annotations.models import Annotation
from webapp.reviews.models import Issue
from webapp.workflow.models import Event, WorkItem, WorkState

pytestmark = pytest.mark.django_db(transaction=True)


def give(page: Any, images: list[Any], to: str) -> None:
    """On the project page: select ``images`` in the gallery and give them to ``to``."""
    for image in images:
        page.check(f"#grid figure[data-image-id='{image.pk}'] input.pick")
    page.select_option("#work-stage", "annotate")
    page.select_option("#work-to", to)
    page.click("#assign-selected")
    wait_for_text(page, "#work-message", f"{to}: {len(images)}")


def start(page: Any, url: str, project: Any, button: str) -> None:
    page.goto(f"{url}/projects/{project.pk}/")
    page.click(button)


def state(image: Any) -> str:
    return WorkItem.objects.get(pk=image.pk).state


def test_a_team_labels_reviews_fixes_and_exports_exactly_what_was_accepted(
    scene: Any, signed_in: Any, django_user_model: Any
) -> None:
    s = scene("coffee", "chelsea", "astronaut")
    coffee, chelsea, astronaut = (s.images[n] for n in ("coffee", "chelsea", "astronaut"))
    member(s, "max", "manager", django_user_model)
    member(s, "ann", "annotator", django_user_model)
    member(s, "bob", "annotator", django_user_model)
    member(s, "rita", "reviewer", django_user_model)

    # The manager gives two images to ann and the third to bob.
    lead = signed_in(s.url, "max")
    lead.goto(f"{s.url}/projects/{s.project.pk}/")
    give(lead, [coffee, chelsea], "ann")
    for image in (coffee, chelsea):
        lead.uncheck(f"#grid figure[data-image-id='{image.pk}'] input.pick")
    give(lead, [astronaut], "bob")
    given = dict(WorkItem.objects.values_list("pk", "assignee__username"))
    assert given == {coffee.pk: "ann", chelsea.pk: "ann", astronaut.pk: "bob"}

    # ann labels her two images and submits each; then her queue is empty.
    ann = signed_in(s.url, "ann")
    start(ann, s.url, s.project, "#start-labelling")
    wait_for_image(ann, "coffee.png")
    wait_for_text(ann, "#annotator-queue-position", "image 1 of 2 in my queue")
    click(ann, coffee, 290, 150)
    save(ann)
    ann.keyboard.press("Control+Enter")
    wait_for_image(ann, "chelsea.png")
    click(ann, chelsea, 200, 120)
    save(ann)
    ann.keyboard.press("Control+Enter")
    ann.locator("#annotator-end").wait_for(state="visible")
    assert "Nothing left to label for you" in text(ann, "#annotator-end-message")
    assert (state(coffee), state(chelsea), state(astronaut)) == ("submitted",) * 2 + ("new",)

    # rita rejects coffee's mask with a comment (an issue on it) and accepts chelsea.
    rita = signed_in(s.url, "rita")
    start(rita, s.url, s.project, "#start-reviewing")
    wait_for_image(rita, "coffee.png")
    wait_for_text(rita, "#annotator-annotations", "by ann")
    rita.keyboard.press("r")
    reason = rita.locator("#annotator-reason")
    reason.wait_for(state="visible")
    reason.locator("input").fill("the mug's handle is missing")
    reason.locator("input").press("Enter")
    wait_for_image(rita, "chelsea.png")
    wait_for_text(rita, "#annotator-annotations", "by ann")
    rita.keyboard.press("a")
    rita.locator("#annotator-end").wait_for(state="visible")
    assert (state(coffee), state(chelsea)) == (WorkState.REJECTED, WorkState.ACCEPTED)

    # ann gets coffee back with the issue pinned, adds the missing part, resolves the
    # issue and submits again.
    start(ann, s.url, s.project, "#start-labelling")
    wait_for_image(ann, "coffee.png")
    wait_for_text(ann, "#annotator-issues", "the mug's handle is missing")
    click(ann, coffee, 120, 200)
    save(ann)
    issue = Issue.objects.get(image=coffee)
    ann.locator(f"#annotator-issues li[data-issue-id='{issue.pk}']").get_by_role(
        "button", name="resolve"
    ).click()
    ann.wait_for_function(
        "() => document.getElementById('annotator-stage').dataset.openIssues === '0'"
    )
    ann.keyboard.press("Control+Enter")
    ann.locator("#annotator-end").wait_for(state="visible")
    assert state(coffee) == WorkState.SUBMITTED
    assert Annotation.objects.filter(image=coffee).count() == 2
    assert Issue.objects.get(pk=issue.pk).status == "resolved"

    # rita accepts it this time.
    start(rita, s.url, s.project, "#start-reviewing")
    wait_for_image(rita, "coffee.png")
    wait_for_text(rita, "#annotator-annotations", "by ann")
    rita.keyboard.press("Shift+A")
    rita.locator("#annotator-end").wait_for(state="visible")
    assert (state(coffee), state(chelsea), state(astronaut)) == ("accepted",) * 2 + ("new",)

    # The manager's export (review is on: accepted images by default) holds exactly them.
    lead.goto(f"{s.url}/projects/{s.project.pk}/")
    assert lead.locator("#export-form select[name=image_scope]").input_value() == "accepted"
    lead.uncheck("#export-form input[name=include_images]")
    lead.click("#export-form button[type=submit]")
    link = lead.locator("#export-list li a", has_text="download").first
    link.wait_for()
    download = lead.request.get(s.url + (link.get_attribute("href") or ""))
    archive = zipfile.ZipFile(io.BytesIO(download.body()))
    coco = json.loads(archive.read("annotations.json"))
    assert sorted(image["file_name"] for image in coco["images"]) == [
        "chelsea.png",
        "coffee.png",
    ]
    assert {a["image_id"] for a in coco["annotations"]} == {coffee.pk, chelsea.pk}
    assert len(coco["annotations"]) == 3

    # Every move is in the activity log, with who made it.
    moves = list(
        Event.objects.filter(project=s.project, kind="transition")
        .order_by("at", "id")
        .values_list("actor__username", "action", "image_id")
    )
    assert ("rita", "reject", coffee.pk) in moves
    assert ("rita", "accept", chelsea.pk) in moves
    assert moves[-1] == ("rita", "accept", coffee.pk)
    for page in (lead, ann, rita):
        assert not [line for line in page.console_lines if line.startswith("pageerror")]
