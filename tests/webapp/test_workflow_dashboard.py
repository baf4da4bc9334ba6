"""The lead's view: the dashboard's figures (API and page), the gallery API's filters,
sorts and query count, and the project's workflow settings."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.webapp.conftest import ApiClientFor, MakeImageRow, MakeProject, UserIn
from webapp.annotations.models import Annotation
from webapp.projects.models import LabelClass
from webapp.workflow.models import ActiveTime, WorkItem
from webapp.workflow.rules import perform

pytestmark = pytest.mark.django_db

RLE = {"size": [3, 4], "counts": "0<"}


def annotate(image: Any, label: LabelClass, author: Any, area: int) -> Annotation:
    return Annotation.objects.create(
        image=image, label_class=label, rle=RLE, bbox=[0, 0, 1, 1], area=area, author=author
    )


@pytest.fixture
def team(make_project: MakeProject, user_in: UserIn, make_image_row: MakeImageRow) -> Any:
    """A project with an annotator (ann) and a reviewer (rev): ann labelled and submitted
    three images; rev accepted one and rejected one; a fourth image is new. Two label
    classes: cat (areas 10 and 30, by ann) and dog (area 5, by the owner)."""
    project = make_project()
    owner = user_in(project, "owner")
    ann, rev = user_in(project, "annotator"), user_in(project, "reviewer")
    images = [make_image_row(project, name=f"im{n}.png", status="ready") for n in range(4)]
    cat = LabelClass.objects.create(project=project, name="cat", order=0)
    dog = LabelClass.objects.create(project=project, name="dog", order=1)
    annotate(images[0], cat, ann, 10)
    annotate(images[1], cat, ann, 30)
    annotate(images[1], dog, owner, 5)

    def move(image: Any, action: str, user: Any, role: str, reason: str = "") -> None:
        perform(WorkItem.objects.get(pk=image.pk), action, user, role, reason)

    for image in images[:3]:
        move(image, "start", ann, "annotator")
        move(image, "submit", ann, "annotator")
    move(images[0], "start_review", rev, "reviewer")
    move(images[0], "accept", rev, "reviewer")
    move(images[1], "start_review", rev, "reviewer")
    move(images[1], "reject", rev, "reviewer", "Missed a cat")
    ActiveTime.add(project, ann, 125)
    return {"project": project, "owner": owner, "ann": ann, "rev": rev, "images": images,
            "cat": cat, "dog": dog}  # fmt: skip


def members(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["username"]: m for m in body["members"]}


def test_dashboard_counts_states_members_and_label_classes(
    team: Any, api_client: ApiClientFor
) -> None:
    response = api_client(team["rev"]).get(f"/api/projects/{team['project'].pk}/dashboard/")

    assert response.status_code == 200
    body = response.json()
    assert body["images"]["total"] == 4
    assert body["images"]["by_state"] == {
        "new": 1, "annotating": 0, "submitted": 1, "in_review": 0, "accepted": 1,
        "rejected": 1, "skipped": 0,
    }  # fmt: skip
    ann = members(body)[team["ann"].get_username()]
    assert (ann["submitted"], ann["accepted"], ann["rejected"]) == (3, 1, 1)
    assert ann["annotations"] == 2
    assert ann["active_seconds"] == 125
    assert ann["per_day"][-1] == 3 and sum(ann["per_day"]) == 3
    assert len(ann["per_day"]) == len(body["days"]) == 14
    rev = members(body)[team["rev"].get_username()]
    # The reviewer's verdicts count for the annotator, not for the reviewer.
    assert (rev["submitted"], rev["accepted"], rev["rejected"]) == (0, 0, 0)
    assert members(body)[team["owner"].get_username()]["annotations"] == 1
    classes = {c["name"]: c for c in body["label_classes"]}
    assert classes["cat"] == {
        "id": team["cat"].pk, "name": "cat", "color": team["cat"].color,
        "annotations": 2, "area_sum": 40, "area_mean": 20.0,
    }  # fmt: skip
    assert (classes["dog"]["annotations"], classes["dog"]["area_sum"]) == (1, 5)
    assert body["throughput"][-1] == 3


def test_a_submit_with_review_off_counts_as_accepted(
    make_project: MakeProject, user_in: UserIn, make_image_row: MakeImageRow,
    api_client: ApiClientFor,
) -> None:  # fmt: skip
    project = make_project(review_required=False)
    ann = user_in(project, "annotator")
    image = make_image_row(project, status="ready")
    perform(WorkItem.objects.get(pk=image.pk), "start", ann, "annotator")
    perform(WorkItem.objects.get(pk=image.pk), "submit", ann, "annotator")

    body = api_client(ann).get(f"/api/projects/{project.pk}/dashboard/").json()

    row = members(body)[ann.get_username()]
    assert (row["submitted"], row["accepted"]) == (1, 1)
    assert body["images"]["by_state"]["accepted"] == 1


@pytest.mark.parametrize("role", ["viewer", "annotator", "manager", "owner"])
def test_every_member_reads_the_dashboard(team: Any, user_in: UserIn, api_client: ApiClientFor,
                                          role: str) -> None:  # fmt: skip
    user = user_in(team["project"], role)
    assert api_client(user).get(f"/api/projects/{team['project'].pk}/dashboard/").status_code == 200


def test_outsiders_get_404_for_the_dashboard_the_gallery_and_the_page(
    team: Any, user_in: UserIn, api_client: ApiClientFor, client: Any
) -> None:
    outsider = user_in(team["project"], "outsider")
    p = team["project"].pk
    assert api_client(outsider).get(f"/api/projects/{p}/dashboard/").status_code == 404
    assert api_client(outsider).get(f"/api/projects/{p}/gallery/").status_code == 404
    client.force_login(outsider)
    assert client.get(f"/projects/{p}/dashboard/").status_code == 404
    assert api_client(None).get(f"/api/projects/{p}/gallery/").status_code in (401, 403)


def test_the_dashboard_page_shows_the_figures_charts_and_activity(
    team: Any, user_in: UserIn, client: Any
) -> None:
    client.force_login(user_in(team["project"], "viewer"))
    p = team["project"].pk

    response = client.get(f"/projects/{p}/dashboard/")

    assert response.status_code == 200
    page = response.content.decode()
    ann = team["ann"].get_username()
    assert f'<tr data-member="{ann}">' in page
    row = page.split(f'<tr data-member="{ann}">')[1].split("</tr>")[0]
    assert 'data-figure="submitted">3<' in row
    assert 'data-figure="accepted">1<' in row
    assert 'data-figure="rejected">1<' in row
    assert 'data-figure="annotations">2<' in row
    assert ">2 min<" in row
    assert '<g class="bar accepted" data-state="accepted" data-value="1">' in page
    assert '<g class="bar new" data-state="new" data-value="1">' in page
    cat = page.split('<tr data-class="cat">')[1].split("</tr>")[0]
    assert 'data-figure="area_sum">40<' in cat and 'data-figure="area_mean">20.0<' in cat
    # No inline style anywhere: the content security policy would refuse it.
    assert "style=" not in page
    # The activity feed: the rejection with its reason, newest first.
    assert "Missed a cat" in page
    assert page.index('data-action="reject"') < page.index('data-action="submit"')
    assert f'href="/projects/{p}/dashboard/"' in client.get(f"/projects/{p}/").content.decode()


def test_the_activity_feed_filters_by_actor_and_kind(team: Any, client: Any) -> None:
    client.force_login(team["owner"])
    p = team["project"].pk

    page = client.get(
        f"/projects/{p}/dashboard/?actor={team['rev'].get_username()}&kind=transition"
    ).content.decode()

    feed = page.split('<ol class="feed')[1].split("</ol>")[0]
    assert feed.count("<li ") == 4  # start_review, accept, start_review, reject
    assert 'data-action="submit"' not in feed


def gallery(client: Any, project: Any, query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/projects/{project.pk}/gallery/{query}")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def names(body: dict[str, Any]) -> list[str]:
    return [row["original_name"] for row in body["results"]]


def test_the_gallery_lists_state_assignee_and_counts_and_filters(
    team: Any, api_client: ApiClientFor
) -> None:
    client = api_client(team["rev"])
    project = team["project"]
    WorkItem.objects.filter(pk=team["images"][3].pk).update(assignee=team["ann"])

    body = gallery(client, project)
    assert body["count"] == 4
    first = body["results"][1]
    assert (first["original_name"], first["state"], first["annotation_count"]) == (
        "im1.png",
        "rejected",
        2,
    )
    assert first["annotator"] == team["ann"].get_username()
    assert first["thumbnail_url"] is None or first["thumbnail_url"].endswith("/thumbnail")
    assert names(gallery(client, project, "?state=rejected")) == ["im1.png"]
    assert names(gallery(client, project, f"?assignee={team['ann'].get_username()}")) == ["im3.png"]
    assert names(gallery(client, project, "?assignee=:none")) == ["im0.png", "im1.png", "im2.png"]
    assert names(gallery(client, project, f"?label={team['dog'].pk}")) == ["im1.png"]
    assert names(gallery(client, project, "?sort=annotations"))[:2] == ["im1.png", "im0.png"]
    assert names(gallery(client, project, "?sort=newest"))[0] == "im3.png"
    # Workflow order: new, ..., submitted, ..., accepted, rejected.
    assert names(gallery(client, project, "?sort=state")) == [
        "im3.png",
        "im2.png",
        "im0.png",
        "im1.png",
    ]
    paged = gallery(client, project, "?sort=state&page=2&page_size=3")
    assert (names(paged), paged["pages"], paged["count"]) == (["im1.png"], 2, 4)
    assert client.get(f"/api/projects/{project.pk}/gallery/?state=sleeping").status_code == 400


def test_the_gallery_query_count_does_not_grow_with_the_page(
    team: Any, api_client: ApiClientFor, make_image_row: MakeImageRow
) -> None:
    client = api_client(team["owner"])
    project = team["project"]
    for n in range(20):
        image = make_image_row(project, status="ready")
        annotate(image, team["cat"], team["ann"], n + 1)

    def queries(query: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            body = gallery(client, project, query)
        assert len(body["results"]) == int(query.rsplit("=", 1)[1])
        return len(captured)

    for sort in ["oldest", "name", "annotations", "state"]:
        assert queries(f"?sort={sort}&page_size=2") == queries(f"?sort={sort}&page_size=20")


def test_the_project_page_shows_workflow_state_and_filters_by_it(team: Any, client: Any) -> None:
    client.force_login(team["owner"])
    p = team["project"].pk

    page = client.get(f"/projects/{p}/?state=accepted").content.decode()

    assert page.count('class="tile"') == 1
    assert 'data-name="im0.png"' in page and 'data-state="accepted"' in page
    assert f'data-list-url="/api/projects/{p}/gallery/?state=accepted"' in page
    assert 'id="assign-selected"' in page


def test_managers_change_the_workflow_settings_and_others_cannot(
    team: Any, api_client: ApiClientFor, user_in: UserIn
) -> None:
    project = team["project"]
    url = f"/api/projects/{project.pk}/"
    change = {"review_required": False, "assigned_only": True, "lease_minutes": 45}

    assert api_client(team["ann"]).patch(url, change, format="json").status_code == 403
    response = api_client(user_in(project, "manager")).patch(url, change, format="json")

    assert response.status_code == 200
    assert {k: response.json()[k] for k in change} == change
    project.refresh_from_db()
    assert (project.review_required, project.assigned_only, project.lease_minutes) == (
        False,
        True,
        45,
    )
    bad = api_client(team["owner"]).patch(url, {"lease_minutes": 0}, format="json")
    assert bad.status_code == 400 and "lease_minutes" in bad.json()
