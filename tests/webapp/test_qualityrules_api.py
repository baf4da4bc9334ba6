"""Quality rules through the API and the workflow: saving (validated, versioned, managers
only), the check at submit (errors refuse it unless a reason is given, which the reviewer
reads) and at accept, the whole-project job and its report page."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from inference import rle as codec
from tests.webapp.conftest import AddMember, ApiClientFor, MakeImageRow, MakeProject, MakeUser
from webapp.annotations.models import Annotation
from webapp.projects.models import LabelClass
from webapp.qualityrules.models import ProjectCheck, ProjectCheckState, RuleCheck, RuleSetVersion
from webapp.qualityrules.tasks import check_project
from webapp.workflow.models import WorkItem, WorkState

MIN_CAR = [{"name": "big cars", "builtin": "min_area", "params": {"areas": {"car": 100}}}]


@pytest.fixture
def team(
    make_project: MakeProject, make_user: MakeUser, add_member: AddMember,
    make_image_row: MakeImageRow,
) -> dict[str, Any]:  # fmt: skip
    owner = make_user(username="olga")
    project = make_project(owner=owner)
    people: dict[str, Any] = {"owner": owner, "outsider": make_user(username="eve")}
    for name, role in [("ann", "annotator"), ("rita", "reviewer"), ("max", "manager")]:
        people[name] = make_user(username=name)
        add_member(project, people[name], role)
    car = LabelClass.objects.create(project=project, name="car")
    image = make_image_row(project, name="street.png", status="ready", width=20, height=20)
    mask = np.zeros((20, 20), dtype=bool)
    mask[0:3, 0:3] = True  # 9 px: a car needs 100
    encoded = codec.encode(mask)
    small = Annotation.objects.create(
        image=image, label_class=car, rle=encoded, bbox=codec.bbox(encoded), area=9
    )
    return {"project": project, "image": image, "small": small, **people}


def url(team: dict[str, Any], tail: str = "") -> str:
    return f"/api/projects/{team['project'].pk}/quality-rules/{tail}"


def move(client: Any, team: dict[str, Any], action: str, **body: Any) -> Any:
    path = f"/api/projects/{team['project'].pk}/images/{team['image'].pk}/work/{action}/"
    return client.post(path, body, format="json")


def test_managers_save_versions_and_members_read_the_rules(
    team: dict[str, Any], api_client: ApiClientFor
) -> None:
    manager, annotator = api_client(team["max"]), api_client(team["ann"])

    first = manager.put(url(team), {"rules": MIN_CAR}, format="json")
    second = manager.put(url(team), {"rules": MIN_CAR * 1}, format="json")
    read = annotator.get(url(team))

    assert (first.status_code, second.status_code) == (200, 200)
    assert [first.json()["version"], second.json()["version"]] == [1, 2]
    assert read.json()["version"] == 2
    assert read.json()["rules"][0]["params"] == {"areas": {"car": 100}, "severity": "error"}
    assert "min_area" in read.json()["builtins"]


def test_annotators_cannot_save_rules_and_outsiders_see_nothing(
    team: dict[str, Any], api_client: ApiClientFor
) -> None:
    assert (
        api_client(team["ann"]).put(url(team), {"rules": MIN_CAR}, format="json").status_code == 403
    )
    assert api_client(team["outsider"]).get(url(team)).status_code == 404
    assert (
        api_client(team["outsider"]).put(url(team), {"rules": MIN_CAR}, format="json").status_code
        == 404
    )
    assert RuleSetVersion.objects.count() == 0


def test_a_broken_custom_rule_is_refused_with_its_line_and_nothing_is_stored(
    team: dict[str, Any], api_client: ApiClientFor
) -> None:
    rules = [*MIN_CAR, {"name": "mine", "source": "import os\ndef check(image):\n    return [\n"}]

    answer = api_client(team["max"]).put(url(team), {"rules": rules}, format="json")

    assert answer.status_code == 400
    (error,) = answer.json()["errors"]
    assert error["rule"] == 1 and error["name"] == "mine" and error["line"] >= 3
    assert RuleSetVersion.objects.count() == 0


@pytest.mark.parametrize(
    ("rules", "says"),
    [
        ("nope", "rules must be a list"),
        ([{"name": "x", "builtin": "min_area", "params": {"areas": {"car": -3}}}], "negative"),
        ([{"name": "x", "source": "x = 1"}], "define a function check(image)"),
        ([{"name": "x", "builtin": "min_area", "source": "def check(i): pass"}], "not both"),
        ([*MIN_CAR, *MIN_CAR], "two rules are named"),
    ],
)
def test_invalid_rules_get_a_clear_400(
    team: dict[str, Any], api_client: ApiClientFor, rules: Any, says: str
) -> None:
    answer = api_client(team["max"]).put(url(team), {"rules": rules}, format="json")

    assert answer.status_code == 400
    assert says in str(answer.json())


def test_errors_block_submit_until_a_reason_is_given_and_the_reviewer_reads_it(
    team: dict[str, Any], api_client: ApiClientFor
) -> None:
    RuleSetVersion.save_new(team["project"], MIN_CAR, team["max"])
    WorkItem.objects.filter(pk=team["image"].pk).update(
        state=WorkState.ANNOTATING, annotator=team["ann"]
    )
    annotator = api_client(team["ann"])

    refused = move(annotator, team, "submit")
    submitted = move(annotator, team, "submit", reason="the car is far away")
    seen = api_client(team["rita"]).get(
        f"/api/projects/{team['project'].pk}/images/{team['image'].pk}/rule-checks/"
    )

    assert refused.status_code == 409
    assert "car #" in refused.json()["detail"] and "give a reason" in refused.json()["detail"]
    assert submitted.status_code == 200
    assert WorkItem.objects.get(pk=team["image"].pk).state == WorkState.SUBMITTED
    (latest,) = seen.json()
    assert latest["reason"] == "the car is far away"
    assert latest["kind"] == "submit" and latest["ruleset_version"] == 1
    assert latest["problems"][0]["annotation_ids"] == [team["small"].pk]


def test_a_clean_image_submits_and_accepts_with_its_checks_recorded(
    team: dict[str, Any], api_client: ApiClientFor
) -> None:
    RuleSetVersion.save_new(team["project"], MIN_CAR, team["max"])
    Annotation.objects.filter(pk=team["small"].pk).update(area=400)  # now big enough
    WorkItem.objects.filter(pk=team["image"].pk).update(
        state=WorkState.ANNOTATING, annotator=team["ann"]
    )

    assert move(api_client(team["ann"]), team, "submit").status_code == 200
    reviewer = api_client(team["rita"])
    assert move(reviewer, team, "start_review").status_code == 200
    assert move(reviewer, team, "accept").status_code == 200

    kinds = list(RuleCheck.objects.order_by("id").values_list("kind", "errors"))
    assert kinds == [("submit", 0), ("accept", 0)]


def test_no_rules_means_no_check(team: dict[str, Any], api_client: ApiClientFor) -> None:
    WorkItem.objects.filter(pk=team["image"].pk).update(
        state=WorkState.ANNOTATING, annotator=team["ann"]
    )

    assert move(api_client(team["ann"]), team, "submit").status_code == 200
    assert RuleCheck.objects.count() == 0


def test_a_project_check_runs_on_the_worker_and_its_report_lists_the_image(
    team: dict[str, Any],
    api_client: ApiClientFor,
    client: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    RuleSetVersion.save_new(team["project"], MIN_CAR, team["max"])
    manager = api_client(team["max"])

    assert api_client(team["ann"]).post(url(team, "checks/")).status_code == 403
    with django_capture_on_commit_callbacks(execute=False) as queued:
        started = manager.post(url(team, "checks/"))
    assert started.status_code == 201 and len(queued) == 1
    check_project(started.json()["id"])  # what the worker runs
    check_project(started.json()["id"])  # a second delivery does nothing

    job = ProjectCheck.objects.get()
    assert job.state == ProjectCheckState.DONE
    assert (job.images_total, job.images_checked, job.images_with_errors, job.errors) == (
        1,
        1,
        1,
        1,
    )
    page_url = f"/projects/{team['project'].pk}/quality-rules/"
    client.force_login(team["rita"])
    page = client.get(page_url)
    assert page.status_code == 200
    assert "street.png" in page.content.decode() and "big cars" in page.content.decode()
    client.force_login(team["outsider"])
    assert client.get(page_url).status_code == 404


def test_a_project_without_rules_cannot_be_checked(
    team: dict[str, Any], api_client: ApiClientFor
) -> None:
    assert api_client(team["max"]).post(url(team, "checks/")).status_code == 409


def test_submit_in_a_project_without_rules_asks_nothing_about_rules(
    team: dict[str, Any], api_client: ApiClientFor
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    WorkItem.objects.filter(pk=team["image"].pk).update(
        state=WorkState.ANNOTATING, annotator=team["ann"]
    )
    client = api_client(team["ann"])

    with CaptureQueriesContext(connection) as queries:
        assert move(client, team, "submit").status_code == 200

    assert not [q["sql"] for q in queries.captured_queries if "qualityrules" in q["sql"]]


def test_the_project_row_keeps_the_version_in_force(
    team: dict[str, Any], api_client: ApiClientFor
) -> None:
    manager = api_client(team["max"])

    manager.put(url(team), {"rules": MIN_CAR}, format="json")
    with_rules = type(team["project"]).objects.get(pk=team["project"].pk).quality_rules_version
    manager.put(url(team), {"rules": []}, format="json")
    emptied = type(team["project"]).objects.get(pk=team["project"].pk).quality_rules_version
    WorkItem.objects.filter(pk=team["image"].pk).update(
        state=WorkState.ANNOTATING, annotator=team["ann"]
    )

    assert (with_rules, emptied) == (1, 0)
    assert move(api_client(team["ann"]), team, "submit").status_code == 200  # not checked
    assert RuleCheck.objects.count() == 0


def test_the_project_page_links_to_its_quality_rules(team: dict[str, Any], client: Any) -> None:
    client.force_login(team["ann"])

    page = client.get(f"/projects/{team['project'].pk}/").content.decode()

    assert f'href="/projects/{team["project"].pk}/quality-rules/" id="quality-rules-link"' in page
    assert client.get(f"/projects/{team['project'].pk}/quality-rules/").status_code == 200


def test_managers_start_a_project_check_from_the_page(
    team: dict[str, Any], client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    page_url = f"/projects/{team['project'].pk}/quality-rules/"
    client.force_login(team["max"])

    refused = client.post(page_url, {"do": "check"})  # no rules yet
    RuleSetVersion.save_new(team["project"], MIN_CAR, team["max"])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        started = client.post(page_url, {"do": "check"})
    client.force_login(team["ann"])
    annotator = client.post(page_url, {"do": "check"})

    assert refused.status_code == 400 and "No rules to check." in refused.content.decode()
    assert started.status_code == 302 and len(queued) == 1
    job = ProjectCheck.objects.get()
    assert (job.state, job.ruleset_version, job.created_by) == (
        ProjectCheckState.QUEUED,
        1,
        team["max"],
    )
    assert annotator.status_code in {403, 404} and ProjectCheck.objects.count() == 1
