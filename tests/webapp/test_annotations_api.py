"""The annotations API: who may read and write, what each endpoint answers, and
optimistic concurrency on edits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import AbstractBaseUser
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from tests.webapp.factories_annotations import make_image, make_label_class
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.projects.models import LabelClass, Project, Role

WIDTH, HEIGHT = 64, 48


@pytest.fixture(autouse=True)
def fast_settings(settings: Settings, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    # Users are made in every test; a deliberately slow password hash would dominate.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class World:
    owner: AbstractBaseUser
    project: Project
    label: LabelClass
    image: Image
    other_project: Project
    other_image: Image
    other_label: LabelClass
    member: Any  # member(role) -> a user with that role in ``project``
    outsider: AbstractBaseUser


@pytest.fixture
def world(make_user: Any, make_project: Any, add_member: Any) -> World:
    owner = make_user("owner")
    project = make_project(owner=owner, name="Cats")
    other_project = make_project(owner=owner, name="Dogs")

    def member(role: str) -> AbstractBaseUser:
        user = make_user()
        add_member(project, user, role)
        return user

    return World(
        owner=owner,
        project=project,
        label=make_label_class(project, "cat"),
        image=make_image(project, WIDTH, HEIGHT),
        other_project=other_project,
        other_image=make_image(other_project, WIDTH, HEIGHT),
        other_label=make_label_class(other_project, "dog"),
        member=member,
        outsider=make_user("outsider"),
    )


def box_mask(x0: int = 5, y0: int = 10, x1: int = 30, y1: int = 20) -> np.ndarray:
    """(HEIGHT, WIDTH) bool, set on columns x0..x1-1 and rows y0..y1-1."""
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def list_url(project: Project, image: Image) -> str:
    return f"/api/projects/{project.pk}/images/{image.pk}/annotations/"


def detail_url(project: Project, annotation: Annotation | int) -> str:
    pk = annotation if isinstance(annotation, int) else annotation.pk
    return f"/api/projects/{project.pk}/annotations/{pk}/"


def new_annotation(world: World, mask: np.ndarray | None = None) -> Annotation:
    return Annotation.objects.create(
        image=world.image,
        label_class=world.label,
        rle=rle.encode(box_mask() if mask is None else mask),
        bbox=[5, 10, 25, 10],
        area=250,
        author=world.owner,
    )


def body(**overrides: Any) -> dict[str, Any]:
    return {"rle": rle.encode(box_mask()), **overrides}


def post(client: APIClient, world: World, **fields: Any) -> Any:
    data = body(label_class=world.label.pk, **fields)
    return client.post(list_url(world.project, world.image), data, format="json")


# Creating


def test_owner_creates_an_annotation_and_gets_it_back_with_derived_fields(
    world: World, api_client: Any
) -> None:
    prompts = {"points": [[10.5, 12], [40, 40]], "labels": [1, 0], "box": [4, 9, 31, 21]}
    response = post(api_client(world.owner), world, prompts=prompts)

    assert response.status_code == 201
    created = response.json()
    assert response["ETag"] == '"1"'
    assert created["version"] == 1
    assert created["image"] == world.image.pk
    assert created["label_class"] == world.label.pk
    assert created["author"] == "owner"
    assert created["bbox"] == [5, 10, 25, 10]
    assert created["area"] == 250
    assert created["prompts"] == prompts
    assert created["rle"]["size"] == [HEIGHT, WIDTH]
    np.testing.assert_array_equal(rle.decode(created["rle"]), box_mask())
    assert {"id", "created_at", "updated_at"} <= set(created)
    stored = Annotation.objects.get(pk=created["id"])
    np.testing.assert_array_equal(rle.decode(stored.rle), box_mask())
    assert stored.author == world.owner


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER, Role.MANAGER])
def test_annotators_and_above_create_annotations(world: World, api_client: Any, role: str) -> None:
    user = world.member(role)
    response = post(api_client(user), world)

    assert response.status_code == 201
    assert response.json()["author"] == user.get_username()


def test_a_viewer_cannot_create_an_annotation(world: World, api_client: Any) -> None:
    response = post(api_client(world.member(Role.VIEWER)), world)

    assert response.status_code == 403
    assert not Annotation.objects.exists()


def test_an_outsider_cannot_create_an_annotation_and_learns_nothing(
    world: World, api_client: Any
) -> None:
    response = post(api_client(world.outsider), world)

    assert response.status_code == 404
    assert not Annotation.objects.exists()


def test_an_anonymous_client_cannot_create_an_annotation(world: World, api_client: Any) -> None:
    response = post(api_client(None), world)

    assert response.status_code in (401, 403)
    assert not Annotation.objects.exists()


def test_an_image_of_another_project_is_not_found_under_this_one(
    world: World, api_client: Any
) -> None:
    client = api_client(world.owner)  # owner of both projects
    url = list_url(world.project, world.other_image)

    assert client.get(url).status_code == 404
    response = client.post(url, body(label_class=world.label.pk), format="json")
    assert response.status_code == 404
    assert not Annotation.objects.exists()


def test_the_mask_may_be_sent_as_polygons(world: World, api_client: Any) -> None:
    square = [10, 10, 20, 10, 20, 20, 10, 20]
    response = api_client(world.owner).post(
        list_url(world.project, world.image),
        {"label_class": world.label.pk, "polygons": [square]},
        format="json",
    )

    assert response.status_code == 201
    created = response.json()
    assert created["bbox"] == [10, 10, 11, 11]
    mask = rle.decode(created["rle"])
    assert mask.shape == (HEIGHT, WIDTH)
    assert mask[15, 15] and not mask[25, 25]


# Reading


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR, Role.OWNER])
def test_members_list_the_annotations_of_an_image(world: World, api_client: Any, role: str) -> None:
    first, second = new_annotation(world), new_annotation(world)
    Annotation.objects.create(
        image=world.other_image,
        label_class=world.other_label,
        rle=rle.encode(box_mask()),
        bbox=[5, 10, 25, 10],
        area=250,
    )
    user = world.owner if role == Role.OWNER else world.member(role)

    response = api_client(user).get(list_url(world.project, world.image))

    assert response.status_code == 200
    assert [a["id"] for a in response.json()] == [first.pk, second.pk]


def test_an_outsider_cannot_list_annotations(world: World, api_client: Any) -> None:
    new_annotation(world)

    response = api_client(world.outsider).get(list_url(world.project, world.image))

    assert response.status_code == 404


def test_a_viewer_reads_one_annotation_with_its_version_as_etag(
    world: World, api_client: Any
) -> None:
    annotation = new_annotation(world)

    response = api_client(world.member(Role.VIEWER)).get(detail_url(world.project, annotation))

    assert response.status_code == 200
    assert response.json()["id"] == annotation.pk
    assert response["ETag"] == '"1"'


def test_an_outsider_cannot_read_an_annotation(world: World, api_client: Any) -> None:
    annotation = new_annotation(world)

    response = api_client(world.outsider).get(detail_url(world.project, annotation))

    assert response.status_code == 404


def test_an_annotation_of_another_project_is_not_found_under_this_one(
    world: World, api_client: Any
) -> None:
    annotation = new_annotation(world)
    client = api_client(world.owner)  # owner of both projects
    url = detail_url(world.other_project, annotation)

    assert client.get(url).status_code == 404
    assert client.patch(url, {"prompts": {}}, format="json", HTTP_IF_MATCH='"1"').status_code == (
        404
    )
    assert client.delete(url).status_code == 404
    assert Annotation.objects.get(pk=annotation.pk).version == 1


def test_an_unknown_annotation_is_not_found(world: World, api_client: Any) -> None:
    assert api_client(world.owner).get(detail_url(world.project, 999999)).status_code == 404


def test_members_list_a_projects_annotations_page_by_page_and_filtered(
    world: World, api_client: Any
) -> None:
    dog = make_label_class(world.project, "dog")
    second_image = make_image(world.project, WIDTH, HEIGHT)
    cats = [new_annotation(world) for _ in range(3)]
    other = Annotation.objects.create(
        image=second_image, label_class=dog, rle=rle.encode(box_mask()), bbox=[], area=1
    )
    new_annotation_elsewhere = Annotation.objects.create(
        image=world.other_image,
        label_class=world.other_label,
        rle=rle.encode(box_mask()),
        bbox=[],
        area=1,
    )
    client = api_client(world.member(Role.VIEWER))
    url = f"/api/projects/{world.project.pk}/annotations/"

    everything = client.get(url).json()
    assert everything["count"] == 4
    ids = [a["id"] for a in everything["results"]]
    assert ids == [*(a.pk for a in cats), other.pk]
    assert new_annotation_elsewhere.pk not in ids
    by_image = client.get(url, {"image": second_image.pk}).json()
    assert [a["id"] for a in by_image["results"]] == [other.pk]
    by_label = client.get(url, {"label_class": world.label.pk}).json()
    assert [a["id"] for a in by_label["results"]] == [a.pk for a in cats]
    both = client.get(url, {"image": world.image.pk, "label_class": dog.pk}).json()
    assert both["count"] == 0
    assert client.get(url, {"image": "abc"}).status_code == 400
    assert api_client(world.outsider).get(url).status_code == 404


def test_a_projects_annotations_come_in_pages_of_fifty(world: World, api_client: Any) -> None:
    for _ in range(51):
        new_annotation(world)
    url = f"/api/projects/{world.project.pk}/annotations/"

    first = api_client(world.owner).get(url).json()

    assert first["count"] == 51
    assert len(first["results"]) == 50
    assert first["next"]
    assert len(api_client(world.owner).get(first["next"]).json()["results"]) == 1


# Editing


def test_an_annotator_edits_with_if_match_and_gets_the_next_version(
    world: World, api_client: Any
) -> None:
    annotation = new_annotation(world)
    dog = make_label_class(world.project, "dog")
    moved = box_mask(0, 0, 8, 4)

    response = api_client(world.member(Role.ANNOTATOR)).patch(
        detail_url(world.project, annotation),
        {"rle": rle.encode(moved), "label_class": dog.pk},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    edited = response.json()
    assert edited["version"] == 2
    assert edited["bbox"] == [0, 0, 8, 4]
    assert edited["area"] == 32
    assert edited["label_class"] == dog.pk
    stored = Annotation.objects.get(pk=annotation.pk)
    np.testing.assert_array_equal(rle.decode(stored.rle), moved)
    assert (stored.version, stored.label_class_id, stored.area) == (2, dog.pk, 32)


def test_a_person_giving_a_suggested_class_ends_its_being_suggested(
    world: World, api_client: Any
) -> None:
    annotation = new_annotation(world)
    Annotation.objects.filter(pk=annotation.pk).update(class_suggested=True)
    client = api_client(world.member(Role.ANNOTATOR))
    url = detail_url(world.project, annotation)
    assert client.get(url).json()["class_suggested"] is True

    # A new mask keeps the class as it was given...
    moved = client.patch(
        url, {"rle": rle.encode(box_mask(0, 0, 8, 4))}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert moved.status_code == 200 and moved.json()["class_suggested"] is True
    # ...a class sent by a person, even the same one, is theirs.
    same = client.patch(url, {"label_class": world.label.pk}, format="json", HTTP_IF_MATCH='"2"')
    assert same.status_code == 200 and same.json()["class_suggested"] is False
    assert not Annotation.objects.get(pk=annotation.pk).class_suggested


def test_the_version_may_be_sent_in_the_body_instead_of_if_match(
    world: World, api_client: Any
) -> None:
    annotation = new_annotation(world)

    response = api_client(world.owner).patch(
        detail_url(world.project, annotation),
        {"version": 1, "prompts": {"points": [[1, 2]], "labels": [1]}},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["prompts"] == {"points": [[1, 2]], "labels": [1], "box": None}
    assert response.json()["version"] == 2


def test_an_edit_without_a_version_is_refused_with_428(world: World, api_client: Any) -> None:
    annotation = new_annotation(world)

    response = api_client(world.owner).patch(
        detail_url(world.project, annotation), {"prompts": {}}, format="json"
    )

    assert response.status_code == 428
    assert "If-Match" in response.json()["detail"]
    assert Annotation.objects.get(pk=annotation.pk).version == 1


@pytest.mark.parametrize("header", ["1", 'W/"1"', '"one"', '"1", "2"', "*"])
def test_a_malformed_if_match_is_a_400(world: World, api_client: Any, header: str) -> None:
    annotation = new_annotation(world)

    response = api_client(world.owner).patch(
        detail_url(world.project, annotation), {"prompts": {}}, format="json", HTTP_IF_MATCH=header
    )

    assert response.status_code == 400
    assert "If-Match" in response.json()
    assert Annotation.objects.get(pk=annotation.pk).version == 1


def test_if_match_and_a_disagreeing_version_field_are_a_400(world: World, api_client: Any) -> None:
    annotation = new_annotation(world)

    response = api_client(world.owner).patch(
        detail_url(world.project, annotation),
        {"version": 2, "prompts": {}},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 400
    assert Annotation.objects.get(pk=annotation.pk).version == 1


@pytest.mark.parametrize("version", ["abc", 0, True])
def test_a_version_field_that_is_not_a_version_is_a_400(
    world: World, api_client: Any, version: object
) -> None:
    annotation = new_annotation(world)

    response = api_client(world.owner).patch(
        detail_url(world.project, annotation), {"version": version, "prompts": {}}, format="json"
    )

    assert response.status_code == 400
    assert "version" in response.json()
    assert Annotation.objects.get(pk=annotation.pk).version == 1


def test_an_empty_edit_is_a_400(world: World, api_client: Any) -> None:
    annotation = new_annotation(world)

    response = api_client(world.owner).patch(
        detail_url(world.project, annotation), {}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 400
    assert Annotation.objects.get(pk=annotation.pk).version == 1


def test_a_viewer_cannot_edit_and_an_outsider_is_not_told_it_exists(
    world: World, api_client: Any
) -> None:
    annotation = new_annotation(world)
    url = detail_url(world.project, annotation)
    edit = {"rle": rle.encode(box_mask(0, 0, 2, 2))}

    viewer = api_client(world.member(Role.VIEWER))
    assert viewer.patch(url, edit, format="json", HTTP_IF_MATCH='"1"').status_code == 403
    outsider = api_client(world.outsider)
    assert outsider.patch(url, edit, format="json", HTTP_IF_MATCH='"1"').status_code == 404
    stored = Annotation.objects.get(pk=annotation.pk)
    assert (stored.version, stored.area) == (1, 250)


def test_two_editors_edit_the_same_version_and_the_second_must_merge(
    world: World, api_client: Any
) -> None:
    # The annotator labelling the image and a manager (the stage rules let no second
    # annotator change an image someone is labelling: see test_workflow_guard.py).
    annotation = new_annotation(world)
    url = detail_url(world.project, annotation)
    alice = api_client(world.member(Role.ANNOTATOR))
    bob = api_client(world.member(Role.MANAGER))
    etag = alice.get(url)["ETag"]
    assert bob.get(url)["ETag"] == etag == '"1"'
    alices_mask, bobs_mask = box_mask(0, 0, 10, 10), box_mask(40, 30, 60, 45)

    first = alice.patch(url, {"rle": rle.encode(alices_mask)}, format="json", HTTP_IF_MATCH=etag)
    second = bob.patch(url, {"rle": rle.encode(bobs_mask)}, format="json", HTTP_IF_MATCH=etag)

    assert first.status_code == 200
    assert second.status_code == 409
    current = second.json()
    assert current["version"] == 2
    assert second["ETag"] == '"2"'
    np.testing.assert_array_equal(rle.decode(current["rle"]), alices_mask)
    assert "changed by someone else" in current["detail"]
    stored = Annotation.objects.get(pk=annotation.pk)
    assert stored.version == 2
    np.testing.assert_array_equal(rle.decode(stored.rle), alices_mask)

    retry = bob.patch(
        url, {"rle": rle.encode(bobs_mask)}, format="json", HTTP_IF_MATCH=second["ETag"]
    )

    assert retry.status_code == 200
    assert retry.json()["version"] == 3
    stored.refresh_from_db()
    assert stored.version == 3
    np.testing.assert_array_equal(rle.decode(stored.rle), bobs_mask)


# Deleting


def test_an_annotator_deletes_an_annotation(world: World, api_client: Any) -> None:
    annotation = new_annotation(world)

    response = api_client(world.member(Role.ANNOTATOR)).delete(
        detail_url(world.project, annotation)
    )

    assert response.status_code == 204
    assert not Annotation.objects.filter(pk=annotation.pk).exists()


def test_a_delete_with_a_stale_if_match_is_a_409_and_deletes_nothing(
    world: World, api_client: Any
) -> None:
    annotation = new_annotation(world)
    annotation.apply_edit(1, area=99)
    client = api_client(world.owner)
    url = detail_url(world.project, annotation)

    stale = client.delete(url, HTTP_IF_MATCH='"1"')

    assert stale.status_code == 409
    assert stale.json()["version"] == 2
    assert Annotation.objects.filter(pk=annotation.pk).exists()
    assert client.delete(url, HTTP_IF_MATCH='"2"').status_code == 204
    assert not Annotation.objects.filter(pk=annotation.pk).exists()


def test_a_viewer_cannot_delete_and_an_outsider_is_not_told_it_exists(
    world: World, api_client: Any
) -> None:
    annotation = new_annotation(world)
    url = detail_url(world.project, annotation)

    assert api_client(world.member(Role.VIEWER)).delete(url).status_code == 403
    assert api_client(world.outsider).delete(url).status_code == 404
    assert Annotation.objects.filter(pk=annotation.pk).exists()
