"""Undoing a merge in one request (POST .../annotations/<id>/unmerge/): the kept one gets
its mask from before the merge back from its history as a new version, and the one the
merge deleted is made again (its class, mask, prompts, original author), in one
transaction; a stale version, a mask that no saved version had, an annotation not deleted
from the image, a requester who may not change the image: nothing stored."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from tests.webapp import test_annotations_merge as merging
from tests.webapp.test_annotations_merge import (
    LEFT,
    RIGHT,
    World,
    annotation_count,
    box,
    create,
    merge,
    stored_state,
    tally,
)
from webapp.annotations import rle, services
from webapp.annotations.models import Annotation
from webapp.projects.models import Project, Role
from webapp.reviews.models import AnnotationVersion
from webapp.workflow import recount
from webapp.workflow.models import Event, EventKind

# The merge tests' fixtures: the project, its classes, images and people.
world = merging.world
fast_settings = merging.fast_settings

PROMPTS = {"points": [[20.0, 15.0]], "labels": [1], "box": None}


def unmerge_url(project: Project, kept: int) -> str:
    return f"/api/projects/{project.pk}/annotations/{kept}/unmerge/"


def unmerge(
    client: APIClient,
    world: World,
    merged: dict[str, Any],
    other: dict[str, Any],
    overrides: dict[str, Any] | None = None,
) -> Any:
    """The undo of the merge that gave ``merged`` (the kept one as the merge answered)
    and deleted ``other`` (as it was before), as the annotator sends it."""
    data = {
        "version": merged["version"],
        "rle": rle.encode(LEFT),
        "other": other["id"],
        "other_rle": other["rle"],
        "other_prompts": other["prompts"],
    }
    data.update(overrides or {})
    return client.post(unmerge_url(world.project, merged["id"]), data, format="json")


def merged_pair(client: APIClient, world: World, **other_fields: Any) -> tuple[Any, Any]:
    """LEFT kept, RIGHT merged into it: (the kept one as merged, the other as it was)."""
    kept = create(client, world, LEFT)
    other = create(client, world, RIGHT, **other_fields)
    response = merge(client, world, kept, other)
    assert response.status_code == 200, response.content
    return response.json(), other


def unchanged() -> tuple[list[tuple[int, int, str, int]], int, int]:
    return stored_state(), Event.objects.count(), AnnotationVersion.objects.count()


# Success


@pytest.mark.parametrize("role", [Role.OWNER, Role.ANNOTATOR])
def test_an_unmerge_restores_the_kept_mask_and_makes_the_other_again(
    world: World, api_client: Any, role: str
) -> None:
    user = world.owner if role == Role.OWNER else world.member(role)
    client = api_client(user)
    merged, other = merged_pair(client, world, prompts=PROMPTS)
    assert annotation_count(world.image) == 1

    response = unmerge(client, world, merged, other)

    assert response.status_code == 200, response.content
    body = response.json()
    kept, again = body["kept"], body["other"]
    assert (kept["id"], kept["version"], kept["area"]) == (merged["id"], 3, 324)
    assert response["ETag"] == '"3"'
    np.testing.assert_array_equal(rle.decode(kept["rle"]), LEFT)
    assert again["id"] not in (merged["id"], other["id"])
    assert (again["label_class"], again["area"], again["version"]) == (world.cat.pk, 600, 1)
    assert again["prompts"] == PROMPTS
    np.testing.assert_array_equal(rle.decode(again["rle"]), RIGHT)
    assert again["author"] == again["last_editor"] == user.get_username()
    stored = {a.pk: a for a in Annotation.objects.all()}
    assert set(stored) == {kept["id"], again["id"]}
    np.testing.assert_array_equal(rle.decode(stored[kept["id"]].rle), LEFT)
    np.testing.assert_array_equal(rle.decode(stored[again["id"]].rle), RIGHT)
    # History: the kept one's three versions; the log: the edit, then the creation,
    # which names the annotation it makes again.
    versions = AnnotationVersion.objects.filter(annotation_id=kept["id"]).order_by("version")
    assert [(v.version, v.area) for v in versions] == [(1, 324), (2, 824), (3, 324)]
    assert AnnotationVersion.objects.filter(annotation_id=again["id"]).count() == 1
    last = list(Event.objects.filter(project=world.project).order_by("pk"))[-2:]
    assert [e.kind for e in last] == [EventKind.ANNOTATION_EDITED, EventKind.ANNOTATION_CREATED]
    assert last[1].detail["restores"] == other["id"]
    # Counts as before the merge; a recount from scratch agrees.
    assert annotation_count(world.image) == 2
    assert tally(world.project, world.cat) == (2, 324 + 600)
    recount.recount(world.project)
    assert annotation_count(world.image) == 2
    assert tally(world.project, world.cat) == (2, 324 + 600)


def test_the_other_keeps_its_original_author_and_the_undoer_is_its_last_editor(
    world: World, api_client: Any
) -> None:
    author = world.member(Role.ANNOTATOR)
    kept = create(api_client(world.owner), world, LEFT)
    other = create(api_client(author), world, RIGHT)
    owner = api_client(world.owner)
    merged = merge(owner, world, kept, other).json()

    again = unmerge(owner, world, merged, other).json()["other"]

    assert again["author"] == author.get_username()
    assert again["last_editor"] == world.owner.get_username()
    # Merged and unmerged again, the author is still the first one.
    merged = merge(owner, world, unmerge_kept(owner, world, merged["id"]), again).json()
    third = unmerge(owner, world, merged, again).json()["other"]
    assert third["author"] == author.get_username()


def unmerge_kept(client: APIClient, world: World, kept_id: int) -> dict[str, Any]:
    return dict(client.get(f"/api/projects/{world.project.pk}/annotations/{kept_id}/").json())


def test_imported_annotations_without_history_unmerge_with_their_importer_as_author(
    world: World, api_client: Any
) -> None:
    """Annotations imported in bulk have no saved versions nor creation events: the
    merge keeps the kept one's mask in its history first, and the deletion names the
    other's author."""
    importer = world.member(Role.MANAGER)

    def imported(mask: np.ndarray) -> Annotation:
        encoded = rle.encode(mask)
        return Annotation.objects.create(
            image=world.image,
            label_class=world.cat,
            rle=encoded,
            bbox=rle.bbox(encoded),
            area=rle.area(encoded),
            author=importer,
            source="import",
        )

    kept, other = imported(LEFT), imported(RIGHT)
    assert not AnnotationVersion.objects.exists()
    client = api_client(world.owner)
    listed = {"id": other.pk, "version": 1, "rle": other.rle, "prompts": {}}
    merged = merge(client, world, {"id": kept.pk, "version": 1}, listed).json()

    response = unmerge(client, world, merged, listed, {"other_source": "import"})

    assert response.status_code == 200, response.content
    body = response.json()
    np.testing.assert_array_equal(rle.decode(body["kept"]["rle"]), LEFT)
    again = body["other"]
    assert (again["author"], again["source"]) == (importer.get_username(), "import")
    np.testing.assert_array_equal(rle.decode(again["rle"]), RIGHT)


def test_a_proposals_mask_comes_back_as_one(world: World, api_client: Any) -> None:
    client = api_client(world.owner)
    merged, other = merged_pair(client, world)

    response = unmerge(client, world, merged, other, {"other_proposal_id": 77})

    assert response.status_code == 200, response.content
    again = response.json()["other"]
    assert (again["source"], again["proposal_id"]) == ("proposal", 77)


# Conflicts: 409, nothing stored


def test_a_kept_annotation_changed_since_the_merge_is_a_409_and_nothing_changes(
    world: World, api_client: Any
) -> None:
    client = api_client(world.owner)
    merged, other = merged_pair(client, world)
    edited = client.patch(
        f"/api/projects/{world.project.pk}/annotations/{merged['id']}/",
        {"rle": rle.encode(LEFT | RIGHT | box(0, 0, 2, 2))},
        format="json",
        HTTP_IF_MATCH=f'"{merged["version"]}"',
    )
    assert edited.status_code == 200
    before = unchanged()

    response = unmerge(client, world, merged, other)

    assert response.status_code == 409
    answer = response.json()
    assert (answer["id"], answer["version"], answer["changed"]) == (merged["id"], 3, [merged["id"]])
    assert "Nothing was unmerged" in answer["detail"]
    assert unchanged() == before
    assert annotation_count(world.image) == 1


def test_an_annotation_is_made_again_only_once(world: World, api_client: Any) -> None:
    client = api_client(world.owner)
    merged, other = merged_pair(client, world)
    first = unmerge(client, world, merged, other)
    assert first.status_code == 200
    before = unchanged()

    again = unmerge(client, world, first.json()["kept"], other)

    assert again.status_code == 409
    assert f"as {first.json()['other']['id']}" in again.json()["detail"]
    assert unchanged() == before


# Refusals: 400, nothing stored


@pytest.mark.parametrize(
    "overrides, field, words",
    [
        ({"rle": rle.encode(box(0, 0, 5, 5))}, "rle", "none of annotation"),
        ({"rle": rle.encode(LEFT | RIGHT)}, "rle", "none of annotation"),  # the merge's own
        ({"other_rle": rle.encode(box(40, 30, 60, 40))}, "other_rle", "outside annotation"),
        ({"other_rle": {"size": [5, 5], "counts": "1"}}, "other_rle", "not the image's size"),
        ({"other_rle": "abc"}, "other_rle", "object"),
        ({"rle": None}, "rle", "null"),
        ({"other": 10**6}, "other", "no annotation 1000000 was deleted"),
        ({"other": "x"}, "other", ""),
        ({"other": True}, "other", ""),
        ({"version": 0}, "version", ""),
        ({"version": "two"}, "version", ""),
        ({"other_prompts": {"points": "everywhere"}}, "other_prompts", "points"),
        ({"other_source": "robot"}, "other_source", "one of"),
        ({"other_proposal_id": -1}, "other_proposal_id", ""),
    ],
)
def test_bad_input_is_400_naming_the_field_and_nothing_is_stored(
    world: World, api_client: Any, overrides: dict[str, Any], field: str, words: str
) -> None:
    client = api_client(world.owner)
    merged, other = merged_pair(client, world)
    before = unchanged()

    response = unmerge(client, world, merged, other, overrides)

    assert response.status_code == 400, response.content
    assert words in str(response.json()[field])
    assert unchanged() == before


def test_missing_fields_are_400(world: World, api_client: Any) -> None:
    client = api_client(world.owner)
    merged, _ = merged_pair(client, world)

    response = client.post(unmerge_url(world.project, merged["id"]), {}, format="json")

    assert response.status_code == 400
    assert {"version", "rle", "other", "other_rle"} <= set(response.json())


def test_an_annotation_still_there_is_not_made_again(world: World, api_client: Any) -> None:
    client = api_client(world.owner)
    merged, _ = merged_pair(client, world)
    inside = create(client, world, box(3, 3, 6, 6))
    before = unchanged()

    response = unmerge(client, world, merged, inside)

    assert response.status_code == 400
    assert "still there" in response.json()["other"][0]
    assert unchanged() == before


def test_an_annotation_deleted_from_another_image_is_not_made_again_here(
    world: World, api_client: Any
) -> None:
    client = api_client(world.owner)
    merged, _ = merged_pair(client, world)
    elsewhere = create(client, world, box(3, 3, 6, 6), image=world.second_image)
    deleted = client.delete(f"/api/projects/{world.project.pk}/annotations/{elsewhere['id']}/")
    assert deleted.status_code == 204
    before = unchanged()

    response = unmerge(client, world, merged, elsewhere)

    assert response.status_code == 400
    assert f"no annotation {elsewhere['id']} was deleted" in response.json()["other"][0]
    assert unchanged() == before
    assert annotation_count(world.second_image) == 0


def test_an_annotation_of_another_class_is_not_made_again_into_this_one(
    world: World, api_client: Any
) -> None:
    client = api_client(world.owner)
    merged, _ = merged_pair(client, world)
    dog = create(client, world, box(3, 3, 6, 6), label_class=world.dog.pk)
    deleted = client.delete(f"/api/projects/{world.project.pk}/annotations/{dog['id']}/")
    assert deleted.status_code == 204
    before = unchanged()

    response = unmerge(client, world, merged, dog)

    assert response.status_code == 400
    assert "another label class" in response.json()["other"][0]
    assert unchanged() == before


def test_a_failure_after_the_kept_one_is_restored_stores_nothing(
    world: World, api_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The restore and the re-creation are one transaction: a failure between them
    leaves the merge as it was, never half an undo."""
    client = api_client(world.owner)
    merged, other = merged_pair(client, world)
    before = unchanged()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "_original_author", broken)
    client.raise_request_exception = False

    response = unmerge(client, world, merged, other)

    assert response.status_code == 500
    assert unchanged() == before
    assert annotation_count(world.image) == 1


# Who may unmerge


def test_an_outsider_gets_404_and_a_viewer_403_and_nothing_changes(
    world: World, api_client: Any
) -> None:
    owner = api_client(world.owner)
    merged, other = merged_pair(owner, world)
    before = unchanged()

    assert unmerge(api_client(world.outsider), world, merged, other).status_code == 404
    assert unmerge(api_client(world.member(Role.VIEWER)), world, merged, other).status_code == 403
    assert unmerge(api_client(None), world, merged, other).status_code in (401, 403)
    assert unchanged() == before


def test_a_kept_annotation_of_another_project_is_not_found_under_this_one(
    world: World, api_client: Any
) -> None:
    client = api_client(world.owner)  # owner of both projects
    merged, other = merged_pair(client, world)
    before = unchanged()
    data = {"version": 2, "rle": rle.encode(LEFT), "other": other["id"], "other_rle": other["rle"]}

    response = client.post(unmerge_url(world.other_project, merged["id"]), data, format="json")

    assert response.status_code == 404
    assert unchanged() == before


def test_the_workflow_refuses_an_unmerge_where_it_refuses_an_edit(
    world: World, api_client: Any
) -> None:
    first, second = world.member(Role.ANNOTATOR), world.member(Role.ANNOTATOR)
    merged, other = merged_pair(api_client(first), world)
    client = api_client(second)
    edit = client.patch(
        f"/api/projects/{world.project.pk}/annotations/{merged['id']}/",
        {"rle": rle.encode(LEFT)},
        format="json",
        HTTP_IF_MATCH=f'"{merged["version"]}"',
    )
    assert edit.status_code >= 400  # the rule this test relies on
    before = unchanged()

    response = unmerge(client, world, merged, other)

    assert response.status_code == edit.status_code
    assert unchanged() == before
