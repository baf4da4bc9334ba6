"""Figures about a project that span its images, label classes and annotations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q

from webapp.annotations.models import Annotation
from webapp.images.models import EncodingStatus, Image
from webapp.projects.models import Project


def project_statistics(project: Project) -> dict[str, Any]:
    """Images by encoding status, annotations in all, per label class and per author.

    ``{"images": {"total", "pending", "encoding", "ready", "failed"},
    "annotations": {"total", "by_label_class": [{"id", "name", "color", "count"}],
    "by_author": [{"user_id", "username", "count"}]}}``; classes without annotations
    are listed with 0; authors by descending count (a deleted author has user_id None).
    """
    annotations = Annotation.objects.filter(image__project=project)
    by_label_class = (
        project.label_classes.annotate(
            count=Count("annotations", filter=Q(annotations__image__project=project))
        )
        .order_by("order", "id")
        .values("id", "name", "color", "count")
    )
    by_author = (
        annotations.values("author_id", "author__username")
        .annotate(count=Count("id"))
        .order_by("-count", "author__username")
    )
    return {
        "images": Image.objects.filter(project=project).progress(),
        "annotations": {
            "total": annotations.count(),
            "by_label_class": list(by_label_class),
            "by_author": [
                {"user_id": a["author_id"], "username": a["author__username"], "count": a["count"]}
                for a in by_author
            ],
        },
    }


def image_progress_by_project(projects: Iterable[Project]) -> dict[int, dict[str, int]]:
    """``{project_id: {"total", "pending", "encoding", "ready", "failed"}}`` in one query."""
    ids = [p.pk for p in projects]
    progress = {pk: dict.fromkeys(["total", *EncodingStatus.values], 0) for pk in ids}
    rows = (
        Image.objects.filter(project_id__in=ids)
        .values("project_id", "status")
        .annotate(count=Count("id"))
        .order_by()
    )
    for row in rows:
        counts = progress[row["project_id"]]
        counts[row["status"]] = row["count"]
        counts["total"] += row["count"]
    return progress
