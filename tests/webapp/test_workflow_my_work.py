"""The "My work" card on the project page: a member's own queue at a glance."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from webapp.workflow.models import WorkItem, WorkState

pytestmark = pytest.mark.django_db


def page_of(user: Any, project: Any) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/projects/{project.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def figure(html: str, words: str) -> int:
    found = re.search(r"<strong>(\d+)</strong> " + re.escape(words), html)
    assert found, words
    return int(found.group(1))


def test_an_annotator_sees_what_is_given_held_returned_waiting_and_accepted(
    make_project: Any, make_user: Any, add_member: Any, make_image_row: Any
) -> None:
    from webapp.reviews.models import Issue

    project = make_project()
    ann, rita = make_user(username="ann"), make_user(username="rita")
    add_member(project, ann, "annotator")
    add_member(project, rita, "reviewer")
    images = [make_image_row(project, name=f"p{n}.png", status="ready") for n in range(7)]
    states = [
        (WorkState.NEW, {"assignee": ann}),
        (WorkState.NEW, {"assignee": ann}),
        (WorkState.ANNOTATING, {"annotator": ann}),
        (WorkState.REJECTED, {"annotator": ann, "reviewer": rita, "reason": "ears missing"}),
        (WorkState.SUBMITTED, {"annotator": ann}),
        (WorkState.ACCEPTED, {"annotator": ann, "reviewer": rita}),
        (WorkState.SUBMITTED, {"annotator": rita}),  # someone else's
    ]
    for image, (state, fields) in zip(images, states, strict=True):
        WorkItem.objects.filter(pk=image.pk).update(state=state, **fields)
    Issue.open_on(images[3], author=rita, role="reviewer", text="the left ear")

    html = page_of(ann, project)

    assert figure(html, "given to me") == 2
    assert figure(html, "in progress") == 1
    assert figure(html, "back to me from review") == 1
    assert figure(html, "waiting for review") == 1
    assert figure(html, "accepted") == 1
    assert "to review" not in html.split('id="my-work"')[1].split("</section>")[0]
    returned = html.split('id="my-work-returned"')[1].split("</ul>")[0]
    assert "p3.png" in returned and "1 open issue" in returned and "ears missing" in returned
    assert f"/images/{images[3].pk}/annotate/?queue=annotate" in returned

    reviewer_html = page_of(rita, project)
    # Two submitted images: ann's is open to rita, her own is not.
    assert figure(reviewer_html, "to review") == 1


def test_a_viewer_has_no_work_card(make_project: Any, make_user: Any, add_member: Any) -> None:
    project = make_project()
    viewer = make_user(username="vic")
    add_member(project, viewer, "viewer")

    assert 'id="my-work"' not in page_of(viewer, project)
