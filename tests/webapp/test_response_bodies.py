"""The hot endpoints build their JSON bodies by hand (``work_item_body``,
``annotation_body``) instead of through their ModelSerializers, which stay the schema's
description of the same shapes: the two must give the same JSON, byte for byte, in every
state an item or an annotation can be in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from tests.webapp.conftest import AddMember, MakeImageRow, MakeProject, MakeUser
from webapp.annotations import rle
from webapp.annotations.models import Annotation, AnnotationSource
from webapp.annotations.serializers import AnnotationSerializer, annotation_body
from webapp.projects.models import LabelClass
from webapp.workflow.api import RELATED
from webapp.workflow.models import WorkItem, WorkState
from webapp.workflow.rules import perform
from webapp.workflow.serializers import WorkItemSerializer, work_item_body


def rendered(body: Any) -> bytes:
    return JSONRenderer().render(body)


@pytest.fixture
def team(
    make_project: MakeProject, make_user: MakeUser, add_member: AddMember,
    make_image_row: MakeImageRow,
) -> dict[str, Any]:  # fmt: skip
    owner = make_user(username="olga")
    project = make_project(owner=owner)
    ann, rev = make_user(username="ann"), make_user(username="rev")
    add_member(project, ann, "annotator")
    add_member(project, rev, "reviewer")
    images = [make_image_row(project, name=f"cat {n}.png", status="ready") for n in range(3)]
    label = LabelClass.objects.create(project=project, name="cat")
    return {"project": project, "owner": owner, "ann": ann, "rev": rev, "images": images,
            "label": label}  # fmt: skip


def loaded(image_id: int) -> WorkItem:
    return WorkItem.objects.select_related(*RELATED).get(pk=image_id)


@pytest.mark.django_db
def test_a_work_item_body_is_its_serializers_in_every_state(team: dict[str, Any]) -> None:
    first, second, third = (image.pk for image in team["images"])
    ann, rev = team["ann"], team["rev"]
    WorkItem.objects.filter(pk=third).update(
        assignee=ann, review_assignee=rev, reason="blurred", lease_expires_at=timezone.now()
    )
    seen = []

    def check(image_id: int) -> None:
        item = loaded(image_id)
        seen.append(item.state)
        assert work_item_body(item) == WorkItemSerializer(item).data
        assert rendered(work_item_body(item)) == rendered(WorkItemSerializer(item).data)

    check(first)  # new, nobody named
    check(third)  # new, given to both stages, a reason and a lease
    for action, user, role in [
        ("start", ann, "annotator"),
        ("submit", ann, "annotator"),
        ("start_review", rev, "reviewer"),
        ("reject", rev, "reviewer"),
        ("start", ann, "annotator"),
        ("submit", ann, "annotator"),
        ("start_review", rev, "reviewer"),
        ("accept", rev, "reviewer"),
    ]:
        perform(loaded(first), action, user, role, "too loose" if action == "reject" else "")
        check(first)
    perform(loaded(second), "skip", team["owner"], "owner", "out of focus")
    check(second)

    assert set(seen) == set(WorkState.values)


@pytest.mark.django_db
def test_a_move_answers_the_item_as_stored(team: dict[str, Any]) -> None:
    """perform() brings the item up to date in memory instead of reading it again: what
    it returns serializes as the row read afresh does."""
    image = team["images"][0].pk
    ann, rev = team["ann"], team["rev"]
    for action, user, role in [
        ("start", ann, "annotator"),
        ("submit", ann, "annotator"),
        ("start_review", rev, "reviewer"),
        ("reject", rev, "reviewer"),
        ("start", ann, "annotator"),
        ("release", ann, "annotator"),
    ]:
        moved = perform(loaded(image), action, user, role, "why" if action == "reject" else "")
        assert rendered(work_item_body(moved)) == rendered(WorkItemSerializer(loaded(image)).data)
    reopened = perform(loaded(image), "reopen", team["owner"], "owner")
    assert rendered(work_item_body(reopened)) == rendered(work_item_body(loaded(image)))


@pytest.mark.django_db
def test_an_annotation_body_is_its_serializers(team: dict[str, Any]) -> None:
    mask = np.zeros((3, 4), dtype=bool)
    mask[1, 1:3] = True
    image = team["images"][0]
    common = {"image": image, "label_class": team["label"], "rle": rle.encode(mask),
              "bbox": [1, 1, 2, 1], "area": 2}  # fmt: skip
    annotations = [
        Annotation.objects.create(
            **common, author=team["ann"], last_editor=team["rev"],
            prompts={"points": [[1.5, 1.0]], "labels": [1]},
        ),
        Annotation.objects.create(**common, author=None, last_editor=None),
        Annotation.objects.create(
            **common, author=team["ann"], last_editor=team["ann"],
            source=AnnotationSource.PROPOSAL, proposal_id=2**40,
        ),
    ]  # fmt: skip
    later = timezone.now() + timedelta(days=400)
    Annotation.objects.filter(pk=annotations[0].pk).update(updated_at=later, version=7)
    for made in annotations:
        for annotation in (
            made,
            Annotation.objects.select_related("author", "last_editor").get(pk=made.pk),
        ):
            body = annotation_body(annotation)
            assert body == AnnotationSerializer(annotation).data
            assert rendered(body) == rendered(AnnotationSerializer(annotation).data)
