"""Counts for what existed before they were kept: each image's annotations, the tallies
per project, label class and author, and each member's submits and verdicts per day
(from the activity log; verdicts count for each image's annotator as it is now)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import migrations
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate


def backfill(apps: Any, schema_editor: Any) -> None:
    Annotation = apps.get_model("annotations", "Annotation")
    WorkItem = apps.get_model("workflow", "WorkItem")
    AnnotationTally = apps.get_model("workflow", "AnnotationTally")
    DailyWork = apps.get_model("workflow", "DailyWork")
    Event = apps.get_model("workflow", "Event")

    counted = (
        Annotation.objects.filter(image=OuterRef("pk"))
        .order_by()
        .values("image")
        .annotate(n=Count("pk"))
        .values("n")
    )
    WorkItem.objects.update(
        annotation_count=Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
    )
    grouped = (
        Annotation.objects.order_by()
        .values_list("label_class__project_id", "label_class_id", "author_id")
        .annotate(n=Count("pk"), area=Sum("area"))
    )
    AnnotationTally.objects.bulk_create(
        AnnotationTally(
            project_id=project, label_class_id=label, author_id=author, count=n, area_sum=area
        )
        for project, label, author, n, area in grouped
    )
    moves = (
        Event.objects.filter(kind="transition", action__in=["submit", "accept", "reject"])
        .order_by()
        .annotate(day=TruncDate("at"))
        .values_list(
            "project_id", "actor_id", "action", "to_state", "image__work__annotator_id", "day"
        )
        .annotate(n=Count("pk"))
    )
    rows: dict[tuple[Any, ...], dict[str, int]] = defaultdict(
        lambda: {"submitted": 0, "accepted": 0, "rejected": 0}
    )
    for project, actor, action, to_state, annotator, day, n in moves:
        if action == "submit":
            if actor is not None:
                rows[(project, actor, day)]["submitted"] += n
                if to_state == "accepted":
                    rows[(project, actor, day)]["accepted"] += n
        elif annotator is not None:
            rows[(project, annotator, day)]["accepted" if action == "accept" else "rejected"] += n
    DailyWork.objects.bulk_create(
        DailyWork(project_id=project, user_id=user, day=day, **figures)
        for (project, user, day), figures in rows.items()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("workflow", "0004_counts"),
        ("annotations", "0004_label_class_image_index"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
