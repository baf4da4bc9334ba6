"""An annotation's creator and last editor, its versions (who saved each, and what), what
changed since the image's last review, and the events its saves and deletes leave."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from tests.webapp.conftest import AddMember, ApiClientFor, MakeProject, MakeUser
from tests.webapp.factories_annotations import make_image, make_label_class
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.reviews.models import AnnotationVersion
from webapp.workflow.models import Event, EventKind, WorkItem, WorkState

WIDTH, HEIGHT = 64, 48


def box_mask(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """(HEIGHT, WIDTH) bool, set on columns x0..x1-1 and rows y0..y1-1."""
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


@dataclass
class Team:
    project: Any
    image: Any
    labels: dict[str, Any]
    people: dict[str, Any]
    client_for: ApiClientFor

    def as_(self, name: str) -> Any:
        return self.client_for(self.people[name])

    @property
    def annotations_url(self) -> str:
        return f"/api/projects/{self.project.pk}/images/{self.image.pk}/annotations/"

    def url(self, annotation_id: int, tail: str = "") -> str:
        return f"/api/projects/{self.project.pk}/annotations/{annotation_id}/{tail}"

    def create(self, who: str, mask: np.ndarray, label: str = "car") -> dict[str, Any]:
        answer = self.as_(who).post(
            self.annotations_url,
            {"label_class": self.labels[label].pk, "rle": rle.encode(mask)},
            format="json",
        )
        assert answer.status_code == 201, answer.content
        return dict(answer.json())

    def hold(self, who: str) -> None:
        """Give the image to ``who`` as the workflow would before they change it: in
        review by them if they are a reviewer, else being labelled by them (the stage
        rules let only its holder change an image)."""
        from webapp.workflow.models import WorkItem, WorkState

        person = self.people[who]
        if self.project.role_of(person) == "reviewer":
            fields = {"state": WorkState.IN_REVIEW, "reviewer": person}
        else:
            fields = {"state": WorkState.ANNOTATING, "annotator": person}
        WorkItem.objects.filter(pk=self.image.pk).update(**fields)

    def edit(self, who: str, annotation: dict[str, Any], **changes: Any) -> dict[str, Any]:
        self.hold(who)
        answer = self.as_(who).patch(
            self.url(annotation["id"]),
            {"version": annotation["version"], **changes},
            format="json",
        )
        assert answer.status_code == 200, answer.content
        return dict(answer.json())

    def history(self, who: str, annotation_id: int) -> Any:
        return self.as_(who).get(self.url(annotation_id, "history/"))


@pytest.fixture
def team(
    make_project: MakeProject, make_user: MakeUser, add_member: AddMember,
    api_client: ApiClientFor, media_root: Any,
) -> Team:  # fmt: skip
    owner = make_user(username="olga")
    project = make_project(owner=owner)
    people = {"owner": owner}
    for name, role in [("ann", "annotator"), ("rita", "reviewer"), ("vic", "viewer")]:
        people[name] = make_user(username=name)
        add_member(project, people[name], role)
    people["outsider"] = make_user(username="eve")
    labels = {name: make_label_class(project, name) for name in ("car", "bus")}
    return Team(project, make_image(project, WIDTH, HEIGHT), labels, people, api_client)


def test_the_api_shows_the_creator_and_the_last_editor(team: Team) -> None:
    created = team.create("ann", box_mask(5, 5, 20, 20))
    assert (created["author"], created["last_editor"]) == ("ann", "ann")

    edited = team.edit("rita", created, rle=rle.encode(box_mask(5, 5, 30, 20)))
    assert (edited["author"], edited["last_editor"]) == ("ann", "rita")
    listed = team.as_("vic").get(team.annotations_url).json()
    assert [(a["author"], a["last_editor"]) for a in listed] == [("ann", "rita")]
    read = team.as_("vic").get(team.url(created["id"])).json()
    assert (read["author"], read["last_editor"]) == ("ann", "rita")
    stored = Annotation.objects.get(pk=created["id"])
    assert (stored.author, stored.last_editor) == (team.people["ann"], team.people["rita"])


def test_every_save_keeps_a_version_with_its_editor_and_mask(team: Team) -> None:
    first, second = box_mask(5, 5, 20, 20), box_mask(5, 5, 30, 20)
    created = team.create("ann", first)
    fixed = team.edit("rita", created, rle=rle.encode(second))
    team.edit("ann", fixed, label_class=team.labels["bus"].pk)

    answer = team.history("vic", created["id"])
    assert answer.status_code == 200
    body = answer.json()
    assert (body["author"], body["last_editor"], body["version"]) == ("ann", "ann", 3)
    versions = body["versions"]
    assert [(v["version"], v["editor"]) for v in versions] == [
        (3, "ann"),
        (2, "rita"),
        (1, "ann"),
    ]
    labels = [v["label_class"] for v in versions]
    assert labels == [team.labels["bus"].pk, team.labels["car"].pk, team.labels["car"].pk]
    np.testing.assert_array_equal(rle.decode(versions[2]["rle"]), first)
    np.testing.assert_array_equal(rle.decode(versions[1]["rle"]), second)
    assert [v["area"] for v in versions] == [25 * 15, 25 * 15, 15 * 15]
    assert body["last_review"] is None
    assert all(v["changed_since_review"] for v in versions)


def test_a_refused_edit_keeps_no_version(team: Team) -> None:
    created = team.create("ann", box_mask(5, 5, 20, 20))
    team.hold("rita")
    stale = team.as_("rita").patch(
        team.url(created["id"]), {"version": 7, "label_class": team.labels["bus"].pk},
        format="json",
    )  # fmt: skip
    assert stale.status_code == 409
    empty = team.as_("rita").patch(
        team.url(created["id"]),
        {"version": 1, "rle": rle.encode(np.zeros((HEIGHT, WIDTH), bool))},
        format="json",
    )
    assert empty.status_code == 400
    assert list(AnnotationVersion.objects.values_list("version", flat=True)) == [1]
    assert not Event.objects.filter(kind=EventKind.ANNOTATION_EDITED).exists()


def test_history_says_what_changed_since_the_images_last_review(team: Team) -> None:
    created = team.create("ann", box_mask(5, 5, 20, 20))
    # The reviewer rejects the image; the annotator then fixes the mask.
    WorkItem.objects.filter(pk=team.image.pk).update(
        state=WorkState.IN_REVIEW, annotator=team.people["ann"], reviewer=team.people["rita"]
    )
    rejected = team.as_("rita").post(
        f"/api/projects/{team.project.pk}/images/{team.image.pk}/work/reject/",
        {"reason": "too small"},
        format="json",
    )
    assert rejected.status_code == 200, rejected.content
    team.edit("ann", created, rle=rle.encode(box_mask(5, 5, 25, 20)))

    body = team.history("rita", created["id"]).json()
    assert body["last_review"]["action"] == "reject"
    assert body["last_review"]["by"] == "rita"
    assert [(v["version"], v["changed_since_review"]) for v in body["versions"]] == [
        (2, True),
        (1, False),
    ]


def test_an_annotation_saved_without_history_shows_its_current_state(team: Team) -> None:
    """An imported annotation (bulk-created, no versions kept) still has one row."""
    annotation = Annotation.objects.create(
        image=team.image,
        label_class=team.labels["car"],
        rle=rle.encode(box_mask(1, 1, 3, 3)),
        bbox=[1, 1, 2, 2],
        area=4,
    )
    versions = team.history("ann", annotation.pk).json()["versions"]
    assert [(v["version"], v["editor"], v["area"]) for v in versions] == [(1, None, 4)]


@pytest.mark.parametrize(("who", "expected"), [("vic", 200), ("outsider", 404)])
def test_members_read_the_history_outsiders_get_404(team: Team, who: str, expected: int) -> None:
    created = team.create("ann", box_mask(5, 5, 20, 20))
    assert team.history(who, created["id"]).status_code == expected


def test_the_history_of_another_projects_annotation_is_not_found_here(
    team: Team, make_project: MakeProject
) -> None:
    created = team.create("ann", box_mask(5, 5, 20, 20))
    elsewhere = make_project(owner=team.people["ann"])
    url = f"/api/projects/{elsewhere.pk}/annotations/{created['id']}/history/"
    assert team.as_("ann").get(url).status_code == 404


def test_saves_and_deletes_are_in_the_activity_log(team: Team) -> None:
    created = team.create("ann", box_mask(5, 5, 20, 20))
    edited = team.edit("rita", created, label_class=team.labels["bus"].pk)
    deleted = team.as_("owner").delete(
        team.url(created["id"]), HTTP_IF_MATCH=f'"{edited["version"]}"'
    )
    assert deleted.status_code == 204

    events = (
        Event.objects.filter(project=team.project)
        .exclude(kind=EventKind.TRANSITION)  # ann's first save started the image for her
        .order_by("at", "id")
    )
    assert [(e.kind, e.actor.username, e.image_id) for e in events] == [
        (EventKind.ANNOTATION_CREATED, "ann", team.image.pk),
        (EventKind.ANNOTATION_EDITED, "rita", team.image.pk),
        (EventKind.ANNOTATION_DELETED, "olga", team.image.pk),
    ]
    assert [e.detail["annotation"] for e in events] == [created["id"]] * 3
    feed = team.as_("vic").get(f"/api/projects/{team.project.pk}/events/?kind=").json()
    feed = [e for e in feed["results"] if e["kind"] != "transition"]
    assert [e["kind"] for e in feed][:3] == [
        "annotation.deleted",
        "annotation.edited",
        "annotation.created",
    ]


def test_a_stale_delete_leaves_no_event(team: Team) -> None:
    created = team.create("ann", box_mask(5, 5, 20, 20))
    answer = team.as_("ann").delete(team.url(created["id"]), HTTP_IF_MATCH='"9"')
    assert answer.status_code == 409
    assert not Event.objects.filter(kind=EventKind.ANNOTATION_DELETED).exists()
    assert Annotation.objects.filter(pk=created["id"]).exists()


def test_the_last_editor_of_older_annotations_is_their_creator(team: Team) -> None:
    """The migration that adds last_editor fills it with the author."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("webapp.annotations.migrations.0003_annotation_last_editor")
    old = Annotation.objects.create(
        image=team.image, label_class=team.labels["car"], rle={}, bbox=[0, 0, 1, 1], area=1,
        author=team.people["ann"],
    )  # fmt: skip
    migration.creator_saved_last(apps, None)
    old.refresh_from_db()
    assert old.last_editor == team.people["ann"]
