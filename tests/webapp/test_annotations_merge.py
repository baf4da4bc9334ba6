"""Merging two annotations in one request (POST .../annotations/<id>/merge/): the kept
one gets the union of both stored masks as a new version, the other is deleted, in one
transaction; a stale version on either side, another image or class, or a requester who
may not change the image stores nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Sum
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from tests.webapp.factories_annotations import make_image, make_label_class
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.projects.models import LabelClass, Project, Role
from webapp.reviews.models import AnnotationVersion
from webapp.workflow import recount
from webapp.workflow.models import AnnotationTally, Event, EventKind, WorkItem

WIDTH, HEIGHT = 64, 48


@pytest.fixture(autouse=True)
def fast_settings(settings: Settings, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class World:
    owner: AbstractBaseUser
    project: Project
    cat: LabelClass
    dog: LabelClass
    image: Image
    second_image: Image
    other_project: Project
    member: Any  # member(role) -> a user with that role in ``project``
    outsider: AbstractBaseUser


@pytest.fixture
def world(make_user: Any, make_project: Any, add_member: Any) -> World:
    owner = make_user("owner")
    project = make_project(owner=owner, name="Cats")

    def member(role: str) -> AbstractBaseUser:
        user = make_user()
        add_member(project, user, role)
        return user

    return World(
        owner=owner,
        project=project,
        cat=make_label_class(project, "cat"),
        dog=make_label_class(project, "dog"),
        image=make_image(project, WIDTH, HEIGHT),
        second_image=make_image(project, WIDTH, HEIGHT),
        other_project=make_project(owner=owner, name="Dogs"),
        member=member,
        outsider=make_user("outsider"),
    )


def box(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """(HEIGHT, WIDTH) bool, set on columns x0..x1-1 and rows y0..y1-1."""
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


LEFT = box(2, 2, 20, 20)  # 324 pixels
RIGHT = box(10, 10, 40, 30)  # 600 pixels, 100 of them shared with LEFT


def create(client: APIClient, world: World, mask: np.ndarray, **fields: Any) -> dict[str, Any]:
    """An annotation made through the API, so that its history and counts are the
    server's own; returns its JSON."""
    image = fields.pop("image", world.image)
    data = {"label_class": world.cat.pk, "rle": rle.encode(mask), **fields}
    response = client.post(
        f"/api/projects/{world.project.pk}/images/{image.pk}/annotations/", data, format="json"
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


def merge_url(project: Project, kept: int) -> str:
    return f"/api/projects/{project.pk}/annotations/{kept}/merge/"


def merge(
    client: APIClient,
    world: World,
    kept: dict[str, Any],
    other: dict[str, Any],
    overrides: dict[str, Any] | None = None,
) -> Any:
    data = {"other": other["id"], "version": kept["version"], "other_version": other["version"]}
    data.update(overrides or {})
    return client.post(merge_url(world.project, kept["id"]), data, format="json")


def stored_state() -> list[tuple[int, int, str, int]]:
    """Every annotation as stored: (id, version, counts, area)."""
    return [(a.pk, a.version, a.rle["counts"], a.area) for a in Annotation.objects.order_by("pk")]


def annotation_count(image: Image) -> int:
    return WorkItem.objects.get(image=image).annotation_count


def tally(project: Project, label_class: LabelClass) -> tuple[int, int]:
    sums = AnnotationTally.objects.filter(project=project, label_class=label_class).aggregate(
        count=Sum("count"), area=Sum("area_sum")
    )
    return (sums["count"] or 0, sums["area"] or 0)


# Success


@pytest.mark.parametrize("role", [Role.OWNER, Role.ANNOTATOR])
def test_a_merge_stores_the_union_as_a_new_version_and_deletes_the_other(
    world: World, api_client: Any, role: str
) -> None:
    user = world.owner if role == Role.OWNER else world.member(role)
    client = api_client(user)
    kept, other = create(client, world, LEFT), create(client, world, RIGHT)
    assert annotation_count(world.image) == 2
    assert tally(world.project, world.cat) == (2, 324 + 600)

    response = merge(client, world, kept, other)

    assert response.status_code == 200, response.content
    merged = response.json()
    assert merged["id"] == kept["id"]
    assert merged["version"] == 2
    assert response["ETag"] == '"2"'
    assert merged["area"] == 824
    assert merged["bbox"] == [2, 2, 38, 28]
    assert merged["last_editor"] == user.get_username()
    np.testing.assert_array_equal(rle.decode(merged["rle"]), LEFT | RIGHT)
    stored = Annotation.objects.get()
    assert (stored.pk, stored.version, stored.area) == (kept["id"], 2, 824)
    np.testing.assert_array_equal(rle.decode(stored.rle), LEFT | RIGHT)
    # The history keeps both versions of the kept one, the log the edit and the delete.
    versions = AnnotationVersion.objects.filter(annotation_id=kept["id"]).order_by("version")
    assert [(v.version, v.area) for v in versions] == [(1, 324), (2, 824)]
    kinds = list(
        Event.objects.filter(project=world.project).order_by("pk").values_list("kind", flat=True)
    )
    assert kinds[-2:] == [EventKind.ANNOTATION_EDITED, EventKind.ANNOTATION_DELETED]
    # Counts: one annotation left on the image, its class's tally the union's area; a
    # recount from scratch agrees.
    assert annotation_count(world.image) == 1
    assert tally(world.project, world.cat) == (1, 824)
    recount.recount(world.project)
    assert annotation_count(world.image) == 1
    assert tally(world.project, world.cat) == (1, 824)


def test_the_merged_annotation_can_be_edited_at_its_new_version(
    world: World, api_client: Any
) -> None:
    client = api_client(world.owner)
    kept, other = create(client, world, LEFT), create(client, world, RIGHT)
    merged = merge(client, world, kept, other).json()

    response = client.patch(
        f"/api/projects/{world.project.pk}/annotations/{kept['id']}/",
        {"rle": rle.encode(LEFT)},
        format="json",
        HTTP_IF_MATCH=f'"{merged["version"]}"',
    )
    assert response.status_code == 200
    assert response.json()["version"] == 3


# Conflicts: nothing stored


@pytest.mark.parametrize("side", ["kept", "other", "both"])
def test_a_stale_version_on_either_side_is_a_409_naming_it_and_changes_nothing(
    world: World, api_client: Any, side: str
) -> None:
    client = api_client(world.owner)
    kept, other = create(client, world, LEFT), create(client, world, RIGHT)
    changed = {"kept": [kept], "other": [other], "both": [kept, other]}[side]
    for annotation in changed:  # someone else edits it meanwhile
        edited = client.patch(
            f"/api/projects/{world.project.pk}/annotations/{annotation['id']}/",
            {"rle": rle.encode(box(0, 0, 5, 5))},
            format="json",
            HTTP_IF_MATCH='"1"',
        )
        assert edited.status_code == 200
    before = stored_state()
    events = Event.objects.count()
    history = AnnotationVersion.objects.count()

    response = merge(client, world, kept, other)

    assert response.status_code == 409
    answer = response.json()
    assert answer["changed"] == [a["id"] for a in changed]
    assert answer["id"] == changed[0]["id"]
    assert answer["version"] == 2
    for annotation in changed:
        assert f"Annotation {annotation['id']} was changed" in answer["detail"]
    assert stored_state() == before
    assert Event.objects.count() == events
    assert AnnotationVersion.objects.count() == history
    assert annotation_count(world.image) == 2
    areas = {"kept": 25 + 600, "other": 324 + 25, "both": 25 + 25}[side]
    assert tally(world.project, world.cat) == (2, areas)


# Refusals: 400, nothing stored


def test_annotations_of_different_classes_do_not_merge(world: World, api_client: Any) -> None:
    client = api_client(world.owner)
    kept, other = (
        create(client, world, LEFT),
        create(client, world, RIGHT, label_class=world.dog.pk),
    )
    before = stored_state()

    response = merge(client, world, kept, other)

    assert response.status_code == 400
    assert "another label class" in response.json()["other"][0]
    assert stored_state() == before


def test_annotations_of_different_images_do_not_merge(world: World, api_client: Any) -> None:
    client = api_client(world.owner)
    kept = create(client, world, LEFT)
    other = create(client, world, RIGHT, image=world.second_image)
    before = stored_state()

    response = merge(client, world, kept, other)

    assert response.status_code == 400
    assert "another image" in response.json()["other"][0]
    assert stored_state() == before
    assert annotation_count(world.image) == annotation_count(world.second_image) == 1


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"other": "x"}, "other"),
        ({"other": True}, "other"),
        ({"other": 0}, "other"),
        ({"other": 10**12}, "other"),
        ({"other": None}, "other"),
        ({"version": "two"}, "version"),
        ({"version": 0}, "version"),
        ({"other_version": 2**40}, "other_version"),
        ({"other_version": None}, "other_version"),
    ],
)
def test_bad_ids_and_versions_are_400(
    world: World, api_client: Any, overrides: dict[str, Any], field: str
) -> None:
    client = api_client(world.owner)
    kept, other = create(client, world, LEFT), create(client, world, RIGHT)
    before = stored_state()

    response = merge(client, world, kept, other, overrides)

    assert response.status_code == 400
    assert field in response.json()
    assert stored_state() == before


def test_missing_fields_are_400(world: World, api_client: Any) -> None:
    client = api_client(world.owner)
    kept = create(client, world, LEFT)

    response = client.post(merge_url(world.project, kept["id"]), {}, format="json")

    assert response.status_code == 400
    assert {"other", "version", "other_version"} <= set(response.json())


def test_an_annotation_does_not_merge_with_itself(world: World, api_client: Any) -> None:
    client = api_client(world.owner)
    kept = create(client, world, LEFT)

    response = merge(client, world, kept, kept)

    assert response.status_code == 400
    assert Annotation.objects.get().version == 1


def test_an_other_annotation_of_another_project_is_400_and_untouched(
    world: World, api_client: Any
) -> None:
    client = api_client(world.owner)  # owner of both projects
    kept = create(client, world, LEFT)
    foreign = Annotation.objects.create(
        image=make_image(world.other_project, WIDTH, HEIGHT),
        label_class=make_label_class(world.other_project, "cat"),
        rle=rle.encode(RIGHT),
        bbox=[10, 10, 30, 20],
        area=600,
        author=world.owner,
    )
    before = stored_state()

    response = merge(client, world, kept, {"id": foreign.pk, "version": 1})

    assert response.status_code == 400
    assert "no annotation" in response.json()["other"][0]
    assert stored_state() == before


def test_a_kept_annotation_of_another_project_is_not_found_under_this_one(
    world: World, api_client: Any
) -> None:
    client = api_client(world.owner)
    kept, other = create(client, world, LEFT), create(client, world, RIGHT)
    before = stored_state()
    data = {"other": other["id"], "version": 1, "other_version": 1}

    response = client.post(merge_url(world.other_project, kept["id"]), data, format="json")

    assert response.status_code == 404
    assert stored_state() == before


# Who may merge


def test_an_outsider_gets_404_and_a_viewer_403_and_nothing_changes(
    world: World, api_client: Any
) -> None:
    owner = api_client(world.owner)
    kept, other = create(owner, world, LEFT), create(owner, world, RIGHT)
    before = stored_state()

    assert merge(api_client(world.outsider), world, kept, other).status_code == 404
    assert merge(api_client(world.member(Role.VIEWER)), world, kept, other).status_code == 403
    assert merge(api_client(None), world, kept, other).status_code in (401, 403)
    assert stored_state() == before
    assert annotation_count(world.image) == 2


def test_the_workflow_refuses_a_merge_where_it_refuses_an_edit(
    world: World, api_client: Any
) -> None:
    """An annotator may not change an image another annotator is labelling; the merge
    asks the same rule (may_change) as an edit and a delete, and gets the same answer."""
    first, second = world.member(Role.ANNOTATOR), world.member(Role.ANNOTATOR)
    kept, other = create(api_client(first), world, LEFT), create(api_client(first), world, RIGHT)
    before = stored_state()
    client = api_client(second)
    edit = client.patch(
        f"/api/projects/{world.project.pk}/annotations/{kept['id']}/",
        {"rle": rle.encode(LEFT)},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert edit.status_code >= 400  # the rule this test relies on

    response = merge(client, world, kept, other)

    assert response.status_code == edit.status_code
    assert stored_state() == before
