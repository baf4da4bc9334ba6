"""Counting again from the tables what :mod:`webapp.workflow.tallies` keeps current:
after a bulk insert of annotations, before an image's annotations are deleted with it,
and from scratch (``manage.py recount_tallies``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.projects.models import Project
from webapp.workflow.models import (
    AnnotationTally,
    DailyWork,
    Event,
    EventKind,
    WorkItem,
    WorkState,
)
from webapp.workflow.tallies import add_to_tally, row_of

CHUNK = 2000  # image ids per recounting UPDATE (SQLite limits a statement's parameters)


def annotations_imported(annotations: Sequence[Annotation]) -> None:
    """Count annotations inserted in bulk (no ``save``): the tallies from the rows in
    memory, each touched image's count recounted from the table."""
    if not annotations:
        return
    tallies: dict[tuple[int, int, int | None], list[int]] = defaultdict(lambda: [0, 0])
    for annotation in annotations:
        project_id, _, class_id, author_id, area = row_of(annotation)
        tally = tallies[(project_id, class_id, author_id)]
        tally[0] += 1
        tally[1] += area
    for key in sorted(tallies, key=lambda k: (k[0], k[1], k[2] or 0)):
        add_to_tally(*key, count=tallies[key][0], area_sum=tallies[key][1])
    recount_images(sorted({a.image_id for a in annotations}))


def image_deleted(image: Image) -> None:
    """Take an image's annotations out of the tallies before they go with it (its work
    item, with the image's own count, is deleted with it)."""
    grouped = (
        Annotation.objects.filter(image=image)
        .order_by()
        .values_list("label_class_id", "author_id")
        .annotate(n=Count("pk"), area=Sum("area"))
    )
    # In the order count_changes locks tallies in, so as not to deadlock with a save.
    for class_id, author_id, count, area_sum in sorted(grouped, key=lambda g: (g[0], g[1] or 0)):
        add_to_tally(image.project_id, class_id, author_id, count=-count, area_sum=-int(area_sum))


def recount_images(image_ids: Sequence[int]) -> None:
    """Set these images' annotation counts from the annotations table."""
    counted = (
        Annotation.objects.filter(image=OuterRef("pk"))
        .order_by()
        .values("image")
        .annotate(n=Count("pk"))
        .values("n")
    )
    for start in range(0, len(image_ids), CHUNK):
        WorkItem.objects.filter(pk__in=image_ids[start : start + CHUNK]).update(
            annotation_count=Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
        )


@transaction.atomic
def recount(project: Project) -> dict[str, int]:
    """Rebuild all of ``project``'s counts from its annotations and its moves in the
    activity log (verdicts then count for each image's annotator as it is now); returns
    ``{"annotations", "tallies", "days"}``, the rows counted and written."""
    AnnotationTally.objects.filter(project=project).delete()
    grouped = (
        Annotation.objects.filter(label_class__project=project)
        .order_by()
        .values_list("label_class_id", "author_id")
        .annotate(n=Count("pk"), area=Sum("area"))
    )
    tallies = [
        AnnotationTally(
            project=project, label_class_id=class_id, author_id=author_id, count=n, area_sum=area
        )
        for class_id, author_id, n, area in grouped
    ]
    AnnotationTally.objects.bulk_create(tallies)
    counted = (
        Annotation.objects.filter(image=OuterRef("pk"))
        .order_by()
        .values("image")
        .annotate(n=Count("pk"))
        .values("n")
    )
    WorkItem.objects.filter(project=project).update(
        annotation_count=Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
    )
    days = recount_days(project)
    return {"annotations": sum(t.count for t in tallies), "tallies": len(tallies), "days": days}


def recount_days(project: Project) -> int:
    """Rebuild ``project``'s :class:`DailyWork` rows from its moves; the rows written."""
    DailyWork.objects.filter(project=project).delete()
    moves = (
        Event.objects.filter(
            project=project, kind=EventKind.TRANSITION, action__in=["submit", "accept", "reject"]
        )
        .order_by()
        .annotate(day=TruncDate("at"))
        .values_list("actor_id", "action", "to_state", "image__work__annotator_id", "day")
        .annotate(n=Count("pk"))
    )
    rows: dict[tuple[int, date], dict[str, int]] = defaultdict(
        lambda: {"submitted": 0, "accepted": 0, "rejected": 0}
    )
    for actor, action, to_state, annotator, day, n in moves:
        if action == "submit":
            if actor is not None:
                rows[(actor, day)]["submitted"] += n
                if to_state == WorkState.ACCEPTED:
                    rows[(actor, day)]["accepted"] += n
        elif annotator is not None:
            rows[(annotator, day)]["accepted" if action == "accept" else "rejected"] += n
    DailyWork.objects.bulk_create(
        DailyWork(project=project, user_id=user, day=day, **figures)
        for (user, day), figures in rows.items()
    )
    return len(rows)


def tally_figures(project: Project) -> list[tuple[int, int | None, int, int]]:
    """``(label class id, author id, count, area sum)`` of ``project``, summed over rows."""
    grouped = (
        AnnotationTally.objects.filter(project=project)
        .order_by()
        .values_list("label_class_id", "author_id")
        .annotate(n=Sum("count"), area=Sum("area_sum"))
    )
    return [(c, a, int(n or 0), int(area or 0)) for c, a, n, area in grouped]
