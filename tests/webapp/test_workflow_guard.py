"""The stage rules, enforced on annotations: only the image's holder (its annotator while
labelling, its reviewer while reviewing) or a manager changes its annotations; saving on a
new image, or on one sent back to you, starts it for you."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.webapp.conftest import AddMember, ApiClientFor, MakeImageRow, MakeProject, MakeUser
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.projects.models import LabelClass
from webapp.workflow.models import WorkItem, WorkState

pytestmark = pytest.mark.django_db
S = WorkState


@pytest.fixture
def world(
    make_project: MakeProject, make_user: MakeUser, add_member: AddMember,
    make_image_row: MakeImageRow,
) -> dict[str, Any]:  # fmt: skip
    project = make_project(owner=make_user(username="olga"))
    people = {}
    for name, role in [("ann", "annotator"), ("bob", "annotator"), ("rita", "reviewer"),
                       ("max", "manager")]:  # fmt: skip
        people[name] = make_user(username=name)
        add_member(project, people[name], role)
    image = make_image_row(project, name="street.png", status="ready")
    label = LabelClass.objects.create(project=project, name="car")
    return {"project": project, "people": people, "image": image, "label": label}


def save(client: Any, world: dict[str, Any]) -> Any:
    mask = np.zeros((3, 4), dtype=bool)
    mask[1, 1:3] = True
    url = f"/api/projects/{world['project'].pk}/images/{world['image'].pk}/annotations/"
    return client.post(url, {"label_class": world["label"].pk, "rle": rle.encode(mask)},
                       format="json")  # fmt: skip


def put(world: dict[str, Any], state: str, **holders: str) -> None:
    fields = {key: world["people"][name] for key, name in holders.items()}
    WorkItem.objects.filter(pk=world["image"].pk).update(state=state, **fields)


def test_saving_on_a_new_image_starts_it_for_you_and_keeps_others_out(
    world: dict[str, Any], api_client: ApiClientFor
) -> None:
    first = save(api_client(world["people"]["ann"]), world)
    second = save(api_client(world["people"]["bob"]), world)

    assert first.status_code == 201
    item = WorkItem.objects.get(pk=world["image"].pk)
    assert (item.state, item.annotator) == (S.ANNOTATING, world["people"]["ann"])
    assert item.lease_expires_at is not None
    assert second.status_code == 409
    assert second.json()["detail"] == (
        "Cannot change the annotations: 'street.png' is being labelled by ann."
    )
    assert Annotation.objects.count() == 1


@pytest.mark.parametrize(
    ("state", "holders", "who", "expected"),
    [
        (S.SUBMITTED, {"annotator": "ann"}, "ann", 409),  # waits for review: no changes
        (S.IN_REVIEW, {"annotator": "ann", "reviewer": "rita"}, "ann", 409),
        (S.IN_REVIEW, {"annotator": "ann", "reviewer": "rita"}, "rita", 201),  # a fix
        (S.REJECTED, {"annotator": "ann", "reviewer": "rita"}, "bob", 409),  # not his
        (S.REJECTED, {"annotator": "ann", "reviewer": "rita"}, "ann", 201),  # hers again
        (S.ACCEPTED, {"annotator": "ann", "reviewer": "rita"}, "ann", 409),
        (S.SKIPPED, {}, "ann", 409),
        (S.NEW, {"assignee": "bob"}, "ann", 409),  # given to someone else
        (S.ACCEPTED, {"annotator": "ann"}, "max", 201),  # managers may always
    ],
)
def test_each_stage_lets_only_its_holder_change_the_annotations(
    world: dict[str, Any], api_client: ApiClientFor, state: str, holders: dict[str, str],
    who: str, expected: int,
) -> None:  # fmt: skip
    put(world, state, **holders)

    response = save(api_client(world["people"][who]), world)

    assert response.status_code == expected, response.content
    assert Annotation.objects.count() == (1 if expected == 201 else 0)
    if state == S.REJECTED and expected == 201:
        assert WorkItem.objects.get(pk=world["image"].pk).state == S.ANNOTATING


def test_edits_and_deletes_follow_the_same_rules(
    world: dict[str, Any], api_client: ApiClientFor
) -> None:
    ann, bob = api_client(world["people"]["ann"]), api_client(world["people"]["bob"])
    created = save(ann, world).json()
    url = f"/api/projects/{world['project'].pk}/annotations/{created['id']}/"

    edit = bob.patch(url, {"label_class": world["label"].pk, "version": 1}, format="json")
    delete = bob.delete(url, HTTP_IF_MATCH='"1"')
    put(world, S.SUBMITTED, annotator="ann")
    own_after_submit = ann.delete(url, HTTP_IF_MATCH='"1"')

    assert edit.status_code == delete.status_code == own_after_submit.status_code == 409
    assert "submitted by ann and waits for review" in own_after_submit.json()["detail"]
    assert Annotation.objects.filter(pk=created["id"]).exists()
