"""The annotator's queue pages: "Start labelling" / "Start reviewing" on the project page,
the page that finds the next image, the annotator in queue mode, and the images the
queue would give next (downloaded ahead, never claimed)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from webapp.workflow.models import WorkItem, WorkState

pytestmark = pytest.mark.django_db


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_config(response: Any, script_id: str) -> dict[str, Any]:
    found = re.search(
        rf'id="{script_id}" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    assert found, response.content[:500]
    return json.loads(found.group(1))


@pytest.mark.parametrize(
    ("role", "labelling", "reviewing"),
    [
        ("owner", True, True),
        ("manager", True, True),
        ("reviewer", True, True),
        ("annotator", True, False),
        ("viewer", False, False),
    ],
)
def test_the_project_page_offers_the_queues_the_role_may_work_in(
    role: str, labelling: bool, reviewing: bool, make_project: Any, user_in: Any
) -> None:
    project = make_project()
    page = signed_in(user_in(project, role)).get(f"/projects/{project.pk}/").content.decode()
    start = f"/projects/{project.pk}/annotate/next/?stage="
    assert (f'href="{start}annotate"' in page and "Start labelling" in page) == labelling
    assert (f'href="{start}review"' in page and "Start reviewing" in page) == reviewing


def test_start_labelling_opens_a_page_that_asks_the_workflow_api_and_claims_nothing_itself(
    make_project: Any, make_image_row: Any, user_in: Any
) -> None:
    project = make_project()
    image = make_image_row(project, status="ready")
    member = user_in(project, "annotator")

    response = signed_in(member).get(f"/projects/{project.pk}/annotate/next/?stage=annotate")

    assert response.status_code == 200
    config = page_config(response, "queue-config")
    assert config["stage"] == "annotate"
    assert config["workNextUrl"] == f"/api/projects/{project.pk}/work/next/"
    assert config["pageUrlTemplate"] == f"/projects/{project.pk}/images/0/annotate/"
    assert b"queue-start.js" in response.content
    # A GET hands nothing out: the page's script claims with a POST.
    assert WorkItem.objects.get(pk=image.pk).state == WorkState.NEW


def test_the_queue_pages_are_not_found_by_outsiders_nor_for_an_unknown_queue(
    make_project: Any, make_user: Any, user_in: Any
) -> None:
    project = make_project()
    outsider = signed_in(make_user(username="eve"))
    assert outsider.get(f"/projects/{project.pk}/annotate/next/?stage=annotate").status_code == 404
    assert outsider.get(f"/projects/{project.pk}/annotate/upcoming.json").status_code == 404
    member = signed_in(user_in(project, "annotator"))
    assert member.get(f"/projects/{project.pk}/annotate/next/?stage=export").status_code == 404


def test_the_annotator_in_a_queue_gets_the_workflow_urls_and_its_queue(
    make_project: Any, make_image_row: Any, user_in: Any
) -> None:
    project = make_project()
    image = make_image_row(project, status="ready")
    reviewer = signed_in(user_in(project, "reviewer"))
    annotator = signed_in(user_in(project, "annotator"))
    url = f"/projects/{project.pk}/images/{image.pk}/annotate/"

    review = page_config(reviewer.get(url + "?queue=review"), "annotator-config")["workflow"]
    assert review["stage"] == "review"
    assert review["workUrlTemplate"] == f"/api/projects/{project.pk}/images/0/work/"
    assert review["activeTimeUrl"] == f"/api/projects/{project.pk}/work/active-time/"
    # An annotator cannot review: the page shows images one by one.
    assert (
        page_config(annotator.get(url + "?queue=review"), "annotator-config")["workflow"]["stage"]
        is None
    )
    plain = page_config(annotator.get(url), "annotator-config")["workflow"]
    assert plain["stage"] is None
    assert plain["canAnnotate"] is True


def test_upcoming_lists_what_the_queue_would_give_next_without_claiming_it(
    make_project: Any, make_image_row: Any, user_in: Any, make_user: Any, add_member: Any
) -> None:
    project = make_project()
    images = [make_image_row(project, name=f"p{n}.png", status="ready") for n in range(4)]
    make_image_row(project, name="still-encoding.png", status="pending")
    ann = user_in(project, "annotator")
    bob = make_user(username="bob")
    add_member(project, bob, "annotator")
    # p0 is held by ann (on screen), p1 was given to bob, p3 was sent back to ann.
    WorkItem.objects.filter(pk=images[0].pk).update(state=WorkState.ANNOTATING, annotator=ann)
    WorkItem.objects.filter(pk=images[1].pk).update(assignee=bob)
    WorkItem.objects.filter(pk=images[3].pk).update(state=WorkState.REJECTED, annotator=ann)
    client = signed_in(ann)

    response = client.get(
        f"/projects/{project.pk}/annotate/upcoming.json?stage=annotate&after={images[0].pk}"
    )

    assert response.status_code == 200
    found = response.json()["images"]
    # The rejected one first (as "next" gives it), then the first new one nobody was given.
    assert [i["imageId"] for i in found] == [images[3].pk, images[2].pk]
    assert found[0]["configUrl"] == (
        f"/projects/{project.pk}/images/{images[3].pk}/annotate/config.json"
    )
    assert found[0]["embeddingUrl"] == f"/api/projects/{project.pk}/images/{images[3].pk}/embedding"
    assert WorkItem.objects.get(pk=images[2].pk).state == WorkState.NEW  # nothing claimed


def test_upcoming_reviews_leave_out_the_reviewers_own_work(
    make_project: Any, make_image_row: Any, user_in: Any
) -> None:
    project = make_project()
    images = [make_image_row(project, name=f"p{n}.png", status="ready") for n in range(3)]
    rita = user_in(project, "reviewer")
    ann = user_in(project, "annotator")
    WorkItem.objects.filter(pk=images[0].pk).update(state=WorkState.SUBMITTED, annotator=rita)
    WorkItem.objects.filter(pk=images[1].pk).update(state=WorkState.SUBMITTED, annotator=ann)

    found = signed_in(rita).get(f"/projects/{project.pk}/annotate/upcoming.json?stage=review")

    assert [i["imageId"] for i in found.json()["images"]] == [images[1].pk]
