"""Querysets compiled once and run again with other ids (webapp/core/compiled.py) answer
what the queryset itself answers, for every set of ids; a shape whose SQL does not keep
the ids as parameters is run through the ORM each time."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.test.utils import CaptureQueriesContext

from tests.webapp.conftest import MakeProject
from webapp.core import compiled
from webapp.projects.models import LabelClass


def classes_named(project_id: int, other_id: int) -> QuerySet[Any]:
    return (
        LabelClass.objects.filter(Q(project_id=project_id) | Q(project_id=other_id))
        .order_by()
        .values("project_id")
        .annotate(n=Count("pk"), cats=Count("pk", filter=Q(name__startswith="cat")))
        .order_by("project_id")
        .values_list("project_id", "n", "cats")
    )


@pytest.mark.django_db
def test_a_compiled_shape_answers_as_its_queryset_for_any_ids(make_project: MakeProject) -> None:
    first, second, third = (make_project() for _ in range(3))
    for project, names in ((first, ["cat", "dog"]), (second, ["cat a", "cat b", "cow"])):
        for name in names:
            LabelClass.objects.create(project=project, name=name)
    key = ("test", "classes named")

    for ids in ((first.pk, second.pk), (second.pk, third.pk), (third.pk, third.pk)):
        with CaptureQueriesContext(connection) as queries:
            found = compiled.rows(key, classes_named, *ids)
        assert found == list(classes_named(*ids))
        assert len(queries.captured_queries) == 1
    assert compiled._compiled[key] is not None  # kept, not built again


@pytest.mark.django_db
def test_a_shape_that_drops_an_id_is_built_every_time(make_project: MakeProject) -> None:
    project = make_project()
    LabelClass.objects.create(project=project, name="cat")

    def ignores_the_second(project_id: int, unused: int) -> QuerySet[Any]:
        return LabelClass.objects.filter(project_id=project_id).values_list("name")

    key = ("test", "drops an id")
    assert compiled.rows(key, ignores_the_second, project.pk, 1) == [("cat",)]
    assert compiled._compiled[key] is None
    assert compiled.rows(key, ignores_the_second, project.pk + 1, 1) == []


def figures_as_the_orm_counts(
    project: Any, user: Any, role: str, stage: str, up_to: int
) -> tuple[int, int]:
    """The queue's figures by the aggregate the next-image view ran before they were
    compiled: (size, position)."""
    from webapp.workflow.models import WorkItem, WorkState
    from webapp.workflow.queue import open_condition

    if stage == "annotate":
        mine = (Q(assignee=user) | Q(annotator=user)) & ~Q(state=WorkState.SKIPPED)
    else:
        mine = Q(reviewer=user) | Q(review_assignee=user)
    open_images = open_condition(project, user, role, stage)
    figures: dict[str, Any] = {
        "size": Count("pk", filter=mine),
        "position": Count("pk", filter=mine & Q(image_id__lte=up_to)),
    }
    wanted = mine
    if open_images is not None:
        wanted |= open_images
        figures["open"] = Count("pk", filter=open_images)
    counts = WorkItem.objects.filter(project=project).filter(wanted).aggregate(**figures)
    return counts["size"] + counts.get("open", 0), counts["position"]


@pytest.mark.django_db
@pytest.mark.parametrize("assigned_only", [False, True])
def test_queue_figures_count_as_the_orm_for_every_stage_and_role(
    assigned_only: bool, make_project: MakeProject, make_user: Any, add_member: Any,
    make_image_row: Any,
) -> None:  # fmt: skip
    from webapp.workflow.models import WorkItem, WorkState
    from webapp.workflow.queue import queue_figures

    project = make_project(assigned_only=assigned_only)
    people = {role: make_user() for role in ("annotator", "reviewer", "manager")}
    for role, person in people.items():
        add_member(project, person, role)
    ann, rev = people["annotator"], people["reviewer"]
    images = [make_image_row(project, status="ready").pk for _ in range(12)]
    layout = [
        (WorkState.NEW, {}), (WorkState.NEW, {"assignee": ann}),
        (WorkState.ANNOTATING, {"annotator": ann}), (WorkState.SKIPPED, {"assignee": ann}),
        (WorkState.SUBMITTED, {"annotator": ann}), (WorkState.SUBMITTED, {"annotator": rev}),
        (WorkState.SUBMITTED, {"annotator": ann, "review_assignee": rev}),
        (WorkState.IN_REVIEW, {"annotator": ann, "reviewer": rev}),
        (WorkState.REJECTED, {"annotator": ann, "reviewer": rev}),
        (WorkState.ACCEPTED, {"annotator": ann, "reviewer": rev}), (WorkState.NEW, {}),
        (WorkState.SUBMITTED, {}),
    ]  # fmt: skip
    for image, (state, people_of) in zip(images, layout, strict=True):
        WorkItem.objects.filter(pk=image).update(state=state, **people_of)

    for role, person in people.items():
        for stage in ("annotate", "review"):
            for up_to in (0, images[4], images[-1]):
                figures = queue_figures(project, person, role, stage, up_to)
                expected = figures_as_the_orm_counts(project, person, role, stage, up_to)
                assert (figures.size, figures.position) == expected, (role, stage, up_to)
