"""Review issues through the API: opening, replying, resolving and reopening, for each
part a member can play (the image's annotator, another annotator, a reviewer, a manager,
a viewer, an outsider), their filters, the events they leave and their counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.webapp.conftest import AddMember, ApiClientFor, MakeProject, MakeUser
from tests.webapp.factories_annotations import make_image, make_label_class
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.reviews.models import Comment, Issue, IssueStatus
from webapp.workflow.models import Event, EventKind, WorkItem, WorkState


@dataclass
class Team:
    project: Any
    image: Any
    people: dict[str, Any]
    client_for: ApiClientFor

    def as_(self, name: str) -> Any:
        return self.client_for(self.people[name])

    @property
    def issues_url(self) -> str:
        return f"/api/projects/{self.project.pk}/issues/"

    def url(self, issue: Issue, action: str = "") -> str:
        return f"{self.issues_url}{issue.pk}/{action + '/' if action else ''}"

    def open_issue(self, text: str = "The mirror is not masked.", **fields: Any) -> Issue:
        return Issue.open_on(
            self.image, author=self.people["rita"], role="reviewer", text=text, **fields
        )


@pytest.fixture
def team(
    make_project: MakeProject, make_user: MakeUser, add_member: AddMember,
    api_client: ApiClientFor, media_root: Any,
) -> Team:  # fmt: skip
    owner = make_user(username="olga")
    project = make_project(owner=owner)
    people = {"owner": owner}
    for name, role in [
        ("ann", "annotator"), ("bob", "annotator"), ("rita", "reviewer"),
        ("max", "manager"), ("vic", "viewer"),
    ]:  # fmt: skip
        people[name] = make_user(username=name)
        add_member(project, people[name], role)
    people["outsider"] = make_user(username="eve")
    image = make_image(project)  # 64 x 48 pixels
    # Ann labelled the image, and the reviewer sent it back to her.
    WorkItem.objects.filter(pk=image.pk).update(
        state=WorkState.REJECTED, annotator=people["ann"], reviewer=people["rita"]
    )
    image.refresh_from_db()
    return Team(project, image, people, api_client)


# --- opening ---

# Who asks -> status of opening an issue.
OPEN_CASES = [
    ("ann", 403),
    ("bob", 403),
    ("vic", 403),
    ("rita", 201),
    ("max", 201),
    ("owner", 201),
    ("outsider", 404),
]


@pytest.mark.parametrize(("who", "expected"), OPEN_CASES)
def test_reviewers_and_managers_open_issues_others_may_not(
    team: Team, who: str, expected: int
) -> None:
    answer = team.as_(who).post(
        team.issues_url,
        {"image": team.image.pk, "x": 10.5, "y": 20, "text": "Mirror missed"},
        format="json",
    )
    assert answer.status_code == expected, answer.content
    if expected == 201:
        body = answer.json()
        assert body["status"] == "open"
        assert (body["x"], body["y"]) == (10.5, 20.0)
        assert body["author"] == team.people[who].username
        assert [c["text"] for c in body["comments"]] == ["Mirror missed"]
        assert Event.objects.filter(kind=EventKind.ISSUE_OPENED, image=team.image).count() == 1
    else:
        assert not Issue.objects.exists()
        assert not Event.objects.filter(kind=EventKind.ISSUE_OPENED).exists()


def test_an_issue_is_pinned_to_an_annotation_of_the_image(team: Team) -> None:
    label = make_label_class(team.project)
    annotation = Annotation.objects.create(
        image=team.image, label_class=label, rle={}, bbox=[0, 0, 1, 1], area=1
    )
    answer = team.as_("rita").post(
        team.issues_url,
        {"image": team.image.pk, "annotation": annotation.pk, "text": "Too loose"},
        format="json",
    )
    assert answer.status_code == 201
    assert answer.json()["annotation"] == annotation.pk
    assert (answer.json()["x"], answer.json()["y"]) == (None, None)
    # Deleting the annotation keeps the issue, now on the image as a whole.
    annotation.delete()
    assert Issue.objects.get().annotation is None


@pytest.mark.parametrize(
    ("body", "field_or_message"),
    [
        ({"x": 65, "y": 10}, "outside the image"),
        ({"x": 10, "y": -1}, "outside the image"),
        ({"x": 10}, "both x and y"),
        ({"text": "   "}, "text"),
        ({"annotation": 999999}, "annotation"),
        ({"image": 999999}, "image"),
    ],
)
def test_an_issue_off_the_image_or_without_text_is_refused(
    team: Team, body: dict[str, Any], field_or_message: str
) -> None:
    sent = {"image": team.image.pk, "text": "Look here", **body}
    answer = team.as_("rita").post(team.issues_url, sent, format="json")
    assert answer.status_code == 400
    assert field_or_message in answer.content.decode()
    assert not Issue.objects.exists()


def test_an_image_of_another_project_cannot_get_an_issue_here(
    team: Team, make_project: MakeProject
) -> None:
    elsewhere = make_image(make_project(owner=team.people["rita"]))
    answer = team.as_("rita").post(
        team.issues_url, {"image": elsewhere.pk, "text": "x"}, format="json"
    )
    assert answer.status_code == 400
    assert not Issue.objects.exists()


# --- replying, resolving, reopening ---

# Who asks -> status of replying to / resolving an open issue on ann's image.
ANSWER_CASES = [
    ("ann", 201, 200),  # the image's annotator
    ("bob", 403, 403),  # another annotator
    ("rita", 201, 200),
    ("max", 201, 200),
    ("owner", 201, 200),
    ("vic", 403, 403),
    ("outsider", 404, 404),
]


@pytest.mark.parametrize(("who", "reply_status", "_"), ANSWER_CASES)
def test_the_images_annotator_reviewers_and_managers_reply(
    team: Team, who: str, reply_status: int, _: int
) -> None:
    issue = team.open_issue()
    answer = team.as_(who).post(team.url(issue, "comments"), {"text": "Fixed it"}, format="json")
    assert answer.status_code == reply_status, answer.content
    thread = [c.text for c in issue.comments.all()]
    replied = Event.objects.filter(kind=EventKind.ISSUE_REPLIED, actor=team.people[who])
    if reply_status == 201:
        assert answer.json()["author"] == team.people[who].username
        assert thread == ["The mirror is not masked.", "Fixed it"]
        assert replied.count() == 1
    else:
        assert thread == ["The mirror is not masked."]
        assert not replied.exists()


@pytest.mark.parametrize(("who", "_", "resolve_status"), ANSWER_CASES)
def test_the_images_annotator_reviewers_and_managers_resolve(
    team: Team, who: str, _: int, resolve_status: int
) -> None:
    issue = team.open_issue()
    answer = team.as_(who).post(team.url(issue, "resolve"))
    assert answer.status_code == resolve_status, answer.content
    issue.refresh_from_db()
    if resolve_status == 200:
        assert answer.json()["status"] == "resolved"
        assert answer.json()["resolved_by"] == team.people[who].username
        assert issue.status == IssueStatus.RESOLVED and issue.resolved_at is not None
        assert Event.objects.filter(kind=EventKind.ISSUE_RESOLVED).count() == 1
    else:
        assert issue.status == IssueStatus.OPEN
        assert not Event.objects.filter(kind=EventKind.ISSUE_RESOLVED).exists()


@pytest.mark.parametrize(
    ("who", "expected"),
    [("ann", 403), ("bob", 403), ("vic", 403), ("rita", 200), ("max", 200), ("outsider", 404)],
)
def test_reviewers_and_managers_reopen_a_resolved_issue(
    team: Team, who: str, expected: int
) -> None:
    issue = team.open_issue()
    issue.resolve(team.people["ann"], "annotator")
    answer = team.as_(who).post(team.url(issue, "reopen"))
    assert answer.status_code == expected
    issue.refresh_from_db()
    reopened = Event.objects.filter(kind=EventKind.ISSUE_REOPENED)
    if expected == 200:
        assert issue.status == IssueStatus.OPEN
        assert issue.resolved_by is None and issue.resolved_at is None
        assert reopened.count() == 1
    else:
        assert issue.status == IssueStatus.RESOLVED
        assert not reopened.exists()


def test_resolving_twice_records_one_event(team: Team) -> None:
    issue = team.open_issue()
    for _ in range(2):
        assert team.as_("ann").post(team.url(issue, "resolve")).status_code == 200
    assert Event.objects.filter(kind=EventKind.ISSUE_RESOLVED).count() == 1


def test_an_annotator_who_made_an_annotation_of_the_image_may_resolve(team: Team) -> None:
    """Without a workflow holder (an image labelled before the workflow, or by several
    people), whoever made one of its annotations counts as its annotator."""
    WorkItem.objects.filter(pk=team.image.pk).update(annotator=None)
    issue = team.open_issue()
    assert team.as_("bob").post(team.url(issue, "resolve")).status_code == 403
    Annotation.objects.create(
        image=team.image,
        label_class=make_label_class(team.project),
        rle={},
        bbox=[0, 0, 1, 1],
        area=1,
        author=team.people["bob"],
    )
    assert team.as_("bob").post(team.url(issue, "resolve")).status_code == 200


# --- reading ---


@pytest.mark.parametrize(
    ("who", "expected"), [("ann", 200), ("bob", 200), ("vic", 200), ("outsider", 404)]
)
def test_members_read_issues_and_their_threads_outsiders_get_404(
    team: Team, who: str, expected: int
) -> None:
    issue = team.open_issue()
    issue.reply(team.people["ann"], "annotator", "Done, see the new mask")
    listed = team.as_(who).get(team.issues_url)
    detail = team.as_(who).get(team.url(issue))
    counts = team.as_(who).get(f"{team.issues_url}counts/")
    assert (listed.status_code, detail.status_code, counts.status_code) == (expected,) * 3
    if expected == 200:
        assert [i["id"] for i in listed.json()["results"]] == [issue.pk]
        assert listed.json()["results"][0]["comment_count"] == 2
        assert [c["author"] for c in detail.json()["comments"]] == ["rita", "ann"]


def test_an_issue_of_another_project_is_not_found_here(
    team: Team, make_project: MakeProject
) -> None:
    other = make_project(owner=team.people["rita"])
    theirs = Issue.open_on(make_image(other), author=team.people["rita"], role="owner", text="x")
    client = team.as_("rita")
    assert client.get(team.url(theirs)).status_code == 404
    assert client.post(team.url(theirs, "resolve")).status_code == 404
    assert Issue.objects.get(pk=theirs.pk).status == IssueStatus.OPEN


def test_the_annotator_lists_the_open_issues_of_an_image_sent_back_to_them(team: Team) -> None:
    first = team.open_issue("Left wheel")
    second = team.open_issue("Right wheel", x=40, y=30)
    team.open_issue("Done already").resolve(team.people["rita"], "reviewer")
    other_image = make_image(team.project)
    Issue.open_on(other_image, author=team.people["max"], role="manager", text="Elsewhere")
    answer = team.as_("ann").get(team.issues_url, {"image": team.image.pk, "status": "open"})
    assert answer.status_code == 200
    shown = {i["id"]: (i["text"], i["x"], i["y"]) for i in answer.json()["results"]}
    assert shown == {first.pk: ("Left wheel", None, None), second.pk: ("Right wheel", 40, 30)}


def test_issues_filter_by_author_and_annotation(team: Team) -> None:
    label = make_label_class(team.project)
    annotation = Annotation.objects.create(
        image=team.image, label_class=label, rle={}, bbox=[0, 0, 1, 1], area=1
    )
    by_rita = team.open_issue("a", annotation=annotation)
    by_max = Issue.open_on(team.image, author=team.people["max"], role="manager", text="b")
    client = team.as_("vic")

    def ids(**params: Any) -> list[int]:
        return [i["id"] for i in client.get(team.issues_url, params).json()["results"]]

    assert ids(author="max") == [by_max.pk]
    assert ids(annotation=annotation.pk) == [by_rita.pk]
    assert ids(status="resolved") == []
    assert client.get(team.issues_url, {"status": "closed"}).status_code == 400
    assert client.get(team.issues_url, {"image": "x"}).status_code == 400


def test_issue_counts_per_image_member_and_project(team: Team) -> None:
    other_image = make_image(team.project)
    WorkItem.objects.filter(pk=other_image.pk).update(annotator=team.people["bob"])
    team.open_issue("1")
    team.open_issue("2").resolve(team.people["ann"], "annotator")
    Issue.open_on(other_image, author=team.people["max"], role="manager", text="3")

    answer = team.as_("vic").get(f"{team.issues_url}counts/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["project"] == {"open": 2, "resolved": 1, "total": 3}
    assert body["images"] == [
        {"image": team.image.pk, "open": 1, "total": 2},
        {"image": other_image.pk, "open": 1, "total": 1},
    ]
    members = {row["username"]: row for row in body["members"]}
    assert members["ann"]["open_on_their_images"] == 1
    assert members["ann"]["total_on_their_images"] == 2
    assert members["bob"]["total_on_their_images"] == 1
    assert members["rita"]["opened"] == 2 and members["max"]["opened"] == 1
    assert Issue.objects.open_counts_by_image(team.project) == {
        team.image.pk: 1,
        other_image.pk: 1,
    }
    only = team.as_("vic").get(f"{team.issues_url}counts/", {"image": other_image.pk}).json()
    assert only["images"] == [{"image": other_image.pk, "open": 1, "total": 1}]


def test_the_gallery_finds_images_with_open_issues(team: Team) -> None:
    clean = make_image(team.project)
    team.open_issue()
    with_open = Image.objects.filter(issues__status="open").distinct()
    assert list(with_open) == [team.image]
    assert clean not in with_open


def test_deleting_an_image_or_its_project_takes_its_issues_and_threads(team: Team) -> None:
    label = make_label_class(team.project)
    annotation = Annotation.objects.create(
        image=team.image, label_class=label, rle={}, bbox=[0, 0, 1, 1], area=1
    )
    issue = team.open_issue(annotation=annotation)
    issue.reply(team.people["ann"], "annotator", "ok")
    team.image.delete_with_files()
    assert not Issue.objects.exists()
    assert not Comment.objects.exists()
    # The activity log keeps the image's name after the image is gone.
    assert Event.objects.filter(kind=EventKind.ISSUE_OPENED).get().image_name
    other = make_image(team.project)
    Issue.open_on(other, author=team.people["max"], role="manager", text="x")
    team.project.delete()
    assert not Issue.objects.exists()


def test_listing_issues_costs_the_same_for_one_or_many(team: Team) -> None:
    client = team.as_("ann")
    team.open_issue().reply(team.people["ann"], "annotator", "done")
    with CaptureQueriesContext(connection) as one:
        assert client.get(team.issues_url).status_code == 200
    for n in range(10):
        team.open_issue(f"issue {n}").reply(team.people["max"], "manager", "seen")
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(team.issues_url).json()["results"]) == 11
    assert len(many) == len(one)
