"""The workflow API's answer when the quality rules refuse a move (issue 17): the 409 body
carries the problems and the rules' version besides the sentence, so that a page whose
own rules were not ready lists them and asks for the reason; nothing moves or is stored
until the move comes again with one."""

from __future__ import annotations

from typing import Any

from tests.webapp.conftest import ApiClientFor
from tests.webapp.test_qualityrules_api import MIN_CAR, move, team  # noqa: F401 (fixture)
from webapp.qualityrules.models import RuleCheck, RuleSetVersion
from webapp.workflow.models import WorkItem, WorkState


def test_a_refused_submit_answers_the_problems_and_the_rules_version(
    team: dict[str, Any],  # noqa: F811
    api_client: ApiClientFor,
) -> None:
    RuleSetVersion.save_new(team["project"], MIN_CAR, team["max"])
    RuleSetVersion.save_new(team["project"], MIN_CAR, team["max"])  # version 2 in force
    WorkItem.objects.filter(pk=team["image"].pk).update(
        state=WorkState.ANNOTATING, annotator=team["ann"]
    )

    refused = move(api_client(team["ann"]), team, "submit", reason="   ")

    assert refused.status_code == 409
    body = refused.json()
    assert "give a reason to submit" in body["detail"]
    assert body["rules_version"] == 2
    (problem,) = body["problems"]
    assert problem["rule"] == "big cars" and problem["severity"] == "error"
    assert problem["annotation_ids"] == [team["small"].pk]
    assert "car #" in problem["message"]
    # Nothing moved and nothing was stored.
    assert WorkItem.objects.get(pk=team["image"].pk).state == WorkState.ANNOTATING
    assert RuleCheck.objects.count() == 0


def test_a_refused_accept_answers_the_problems_and_a_reason_accepts(
    team: dict[str, Any],  # noqa: F811
    api_client: ApiClientFor,
) -> None:
    RuleSetVersion.save_new(team["project"], MIN_CAR, team["max"])
    WorkItem.objects.filter(pk=team["image"].pk).update(
        state=WorkState.IN_REVIEW, annotator=team["ann"], reviewer=team["rita"]
    )
    reviewer = api_client(team["rita"])

    refused = move(reviewer, team, "accept")
    accepted = move(reviewer, team, "accept", reason="small cars are fine here")

    assert refused.status_code == 409
    assert "give a reason to accept" in refused.json()["detail"]
    assert [p["rule"] for p in refused.json()["problems"]] == ["big cars"]
    assert refused.json()["rules_version"] == 1
    assert accepted.status_code == 200
    assert WorkItem.objects.get(pk=team["image"].pk).state == WorkState.ACCEPTED
    check = RuleCheck.objects.get()
    assert (check.kind, check.errors, check.reason) == ("accept", 1, "small cars are fine here")


def test_a_refusal_for_the_image_state_has_no_problems_field(
    team: dict[str, Any],  # noqa: F811
    api_client: ApiClientFor,
) -> None:
    RuleSetVersion.save_new(team["project"], MIN_CAR, team["max"])

    refused = move(api_client(team["ann"]), team, "submit")  # the image is new, not held

    assert refused.status_code == 409
    assert set(refused.json()) == {"detail"}


def test_outsiders_get_404_not_the_problems(
    team: dict[str, Any],  # noqa: F811
    api_client: ApiClientFor,
) -> None:
    RuleSetVersion.save_new(team["project"], MIN_CAR, team["max"])
    WorkItem.objects.filter(pk=team["image"].pk).update(
        state=WorkState.ANNOTATING, annotator=team["ann"]
    )

    answer = move(api_client(team["outsider"]), team, "submit")

    assert answer.status_code == 404
    assert "problems" not in answer.json()


def test_the_schema_describes_the_refusal(api_client: ApiClientFor, make_user: Any) -> None:
    schema = api_client(make_user(username="reader")).get("/api/schema/")

    assert schema.status_code == 200
    text = schema.content.decode()
    assert "MoveRefusal" in text and "rules_version" in text
