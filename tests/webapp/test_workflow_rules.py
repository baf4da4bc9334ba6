"""The workflow's state machine through the API: every move from every state, for each
part a member can play (the holder, someone else with the same role, a manager...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.webapp.conftest import AddMember, ApiClientFor, MakeImageRow, MakeProject, MakeUser
from webapp.workflow.models import Event, WorkItem, WorkState
from webapp.workflow.rules import MOVES

S = WorkState
ALL_STATES = list(S)


@dataclass
class Team:
    project: Any
    item: WorkItem
    people: dict[str, Any]

    def put(self, state: str, **holders: str | None) -> None:
        """Put the image in ``state`` with the named people as annotator/reviewer/..."""
        fields: dict[str, Any] = {
            key: (self.people[name] if name else None) for key, name in holders.items()
        }
        WorkItem.objects.filter(pk=self.item.pk).update(state=state, **fields)


@pytest.fixture
def team(
    make_project: MakeProject, make_user: MakeUser, add_member: AddMember,
    make_image_row: MakeImageRow,
) -> Team:  # fmt: skip
    owner = make_user(username="olga")
    project = make_project(owner=owner)
    people = {"owner": owner}
    for name, role in [
        ("ann", "annotator"), ("bob", "annotator"), ("rita", "reviewer"), ("rex", "reviewer"),
        ("max", "manager"), ("vic", "viewer"),
    ]:  # fmt: skip
        people[name] = make_user(username=name)
        add_member(project, people[name], role)
    people["outsider"] = make_user(username="eve")
    image = make_image_row(project, name="street.png", status="ready")
    return Team(project, WorkItem.objects.get(pk=image.pk), people)


def move(client: Any, team: Team, action: str, **body: Any) -> Any:
    url = f"/api/projects/{team.project.pk}/images/{team.item.pk}/work/{action}/"
    return client.post(url, body, format="json")


def test_a_new_image_gets_its_workflow_row_as_new(team: Team) -> None:
    assert team.item.state == S.NEW
    assert team.item.project_id == team.project.pk


# (action, the state it starts from, holders, who asks, expected status, resulting state)
CASES = [
    # Labelling: any annotator starts a new image; its holder submits or gives it back.
    ("start", S.NEW, {}, "ann", 200, S.ANNOTATING),
    ("start", S.NEW, {}, "vic", 403, S.NEW),
    ("start", S.NEW, {"assignee": "bob"}, "ann", 409, S.NEW),
    ("start", S.NEW, {"assignee": "bob"}, "bob", 200, S.ANNOTATING),
    ("start", S.REJECTED, {"annotator": "ann", "reviewer": "rita"}, "ann", 200, S.ANNOTATING),
    ("start", S.REJECTED, {"annotator": "ann", "reviewer": "rita"}, "bob", 409, S.REJECTED),
    ("start", S.ANNOTATING, {"annotator": "ann"}, "bob", 409, S.ANNOTATING),
    ("submit", S.ANNOTATING, {"annotator": "ann"}, "ann", 200, S.SUBMITTED),
    ("submit", S.ANNOTATING, {"annotator": "ann"}, "bob", 409, S.ANNOTATING),
    ("submit", S.ANNOTATING, {"annotator": "ann"}, "max", 200, S.SUBMITTED),
    ("submit", S.NEW, {}, "ann", 409, S.NEW),
    ("release", S.ANNOTATING, {"annotator": "ann"}, "ann", 200, S.NEW),
    ("release", S.ANNOTATING, {"annotator": "ann", "reviewer": "rita"}, "ann", 200, S.REJECTED),
    # Review: a reviewer takes someone else's submitted image; only its holder decides.
    ("start_review", S.SUBMITTED, {"annotator": "ann"}, "rita", 200, S.IN_REVIEW),
    ("start_review", S.SUBMITTED, {"annotator": "ann"}, "bob", 403, S.SUBMITTED),
    ("start_review", S.SUBMITTED, {"annotator": "rita"}, "rita", 403, S.SUBMITTED),
    (
        "start_review",
        S.SUBMITTED,
        {"annotator": "ann", "review_assignee": "rex"},
        "rita",
        409,
        S.SUBMITTED,
    ),
    ("start_review", S.SUBMITTED, {"annotator": "max"}, "max", 200, S.IN_REVIEW),
    ("start_review", S.ANNOTATING, {"annotator": "ann"}, "rita", 409, S.ANNOTATING),
    ("accept", S.IN_REVIEW, {"annotator": "ann", "reviewer": "rita"}, "rita", 200, S.ACCEPTED),
    ("accept", S.IN_REVIEW, {"annotator": "ann", "reviewer": "rita"}, "rex", 409, S.IN_REVIEW),
    ("accept", S.IN_REVIEW, {"annotator": "ann", "reviewer": "rita"}, "ann", 403, S.IN_REVIEW),
    ("accept", S.IN_REVIEW, {"annotator": "ann", "reviewer": "rita"}, "max", 200, S.ACCEPTED),
    ("accept", S.SUBMITTED, {"annotator": "ann"}, "rita", 409, S.SUBMITTED),
    ("reject", S.IN_REVIEW, {"annotator": "ann", "reviewer": "rita"}, "rita", 200, S.REJECTED),
    ("reject", S.IN_REVIEW, {"annotator": "ann", "reviewer": "rita"}, "rex", 409, S.IN_REVIEW),
    (
        "release_review",
        S.IN_REVIEW,
        {"annotator": "ann", "reviewer": "rita"},
        "rita",
        200,
        S.SUBMITTED,
    ),
    # Managers skip (with a reason) and reopen; nobody else does.
    ("skip", S.NEW, {}, "max", 200, S.SKIPPED),
    ("skip", S.NEW, {}, "rita", 403, S.NEW),
    ("skip", S.ACCEPTED, {}, "max", 409, S.ACCEPTED),
    ("reopen", S.ACCEPTED, {"annotator": "ann", "reviewer": "rita"}, "max", 200, S.NEW),
    ("reopen", S.SKIPPED, {}, "owner", 200, S.NEW),
    ("reopen", S.ACCEPTED, {"annotator": "ann", "reviewer": "rita"}, "rita", 403, S.ACCEPTED),
    ("reopen", S.NEW, {}, "max", 409, S.NEW),
]


@pytest.mark.parametrize(
    ("action", "state", "holders", "who", "expected", "after"),
    CASES,
    ids=[f"{c[0]}-from-{c[1]}-by-{c[3]}-{c[4]}" for c in CASES],
)
def test_each_move_follows_the_rules(
    team: Team, api_client: ApiClientFor, action: str, state: str, holders: dict[str, str],
    who: str, expected: int, after: str,
) -> None:  # fmt: skip
    team.put(state, **holders)
    reason = {"reason": "blurred"} if action in {"skip", "reject"} else {}

    response = move(api_client(team.people[who]), team, action, **reason)

    assert response.status_code == expected, response.content
    item = WorkItem.objects.get(pk=team.item.pk)
    assert item.state == after
    events = Event.objects.filter(project=team.project, kind="transition")
    if expected == 200:
        assert response.json()["state"] == after
        event = events.get()
        assert (event.action, event.from_state, event.to_state) == (action, state, after)
        assert event.actor == team.people[who]
    else:
        assert not events.exists()
        assert response.json()["detail"]


def test_every_move_is_refused_from_every_state_it_does_not_start_from(
    team: Team, api_client: ApiClientFor
) -> None:
    manager = api_client(team.people["max"])
    for action, rule in MOVES.items():
        for state in ALL_STATES:
            if state in rule.sources:
                continue
            team.put(state, annotator="ann", reviewer="rita")
            response = move(manager, team, action, reason="why")
            assert response.status_code == 409, (action, state)
            assert WorkItem.objects.get(pk=team.item.pk).state == state


def test_a_refusal_says_what_state_the_image_is_in_and_who_holds_it(
    team: Team, api_client: ApiClientFor
) -> None:
    team.put(S.IN_REVIEW, annotator="ann", reviewer="rita")

    response = move(api_client(team.people["rex"]), team, "accept")

    assert response.status_code == 409
    assert (
        response.json()["detail"]
        == "Cannot accept 'street.png': 'street.png' is in review by rita."
    )


def test_skipping_needs_a_reason_and_keeps_it(team: Team, api_client: ApiClientFor) -> None:
    manager = api_client(team.people["max"])

    assert move(manager, team, "skip").status_code == 400
    response = move(manager, team, "skip", reason="duplicate of another photo")

    assert response.status_code == 200
    assert response.json()["reason"] == "duplicate of another photo"
    event = Event.objects.get(project=team.project, action="skip")
    assert event.detail == {"reason": "duplicate of another photo"}


def test_with_review_off_submitting_accepts(team: Team, api_client: ApiClientFor) -> None:
    team.project.review_required = False
    team.project.save()
    team.put(S.ANNOTATING, annotator="ann")

    response = move(api_client(team.people["ann"]), team, "submit")

    assert response.status_code == 200
    assert response.json()["state"] == S.ACCEPTED


def test_with_assigned_only_annotators_start_only_what_they_were_given(
    team: Team, api_client: ApiClientFor
) -> None:
    team.project.assigned_only = True
    team.project.save()

    refused = move(api_client(team.people["ann"]), team, "start")
    team.put(S.NEW, assignee="ann")
    allowed = move(api_client(team.people["ann"]), team, "start")

    assert refused.status_code == 403
    assert "given to them" in refused.json()["detail"]
    assert allowed.status_code == 200


def test_a_move_made_on_a_stale_copy_is_refused(team: Team) -> None:
    from webapp.workflow.rules import MoveRefused, perform

    stale = WorkItem.objects.select_related("image", "project").get(pk=team.item.pk)
    fresh = WorkItem.objects.select_related("image", "project").get(pk=team.item.pk)
    perform(fresh, "start", team.people["bob"], "annotator")

    with pytest.raises(MoveRefused) as refused:
        perform(stale, "start", team.people["ann"], "annotator")

    assert refused.value.status == 409
    assert "being labelled by bob" in str(refused.value)
    assert WorkItem.objects.get(pk=team.item.pk).annotator == team.people["bob"]


def test_outsiders_and_anonymous_get_404_or_401(team: Team, api_client: ApiClientFor) -> None:
    outsider = api_client(team.people["outsider"])
    base = f"/api/projects/{team.project.pk}"

    assert move(outsider, team, "start").status_code == 404
    assert outsider.get(f"{base}/work/").status_code == 404
    assert outsider.get(f"{base}/events/").status_code == 404
    assert outsider.post(f"{base}/work/next/", {}, format="json").status_code == 404
    assert api_client(None).get(f"{base}/work/").status_code in {401, 403}
    assert WorkItem.objects.get(pk=team.item.pk).state == S.NEW


def test_an_unknown_move_or_image_is_404(team: Team, api_client: ApiClientFor) -> None:
    manager = api_client(team.people["max"])
    base = f"/api/projects/{team.project.pk}/images"

    assert move(manager, team, "teleport").status_code == 404
    assert manager.post(f"{base}/99999999999999999999/work/start/").status_code == 404
    assert manager.post(f"{base}/12345/work/start/").status_code == 404
