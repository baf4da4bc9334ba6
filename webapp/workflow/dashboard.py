"""The lead's figures for one project (the dashboard page and its JSON endpoint).

- Images per workflow state.
- Per member: images submitted (their ``submit`` moves), accepted and rejected (``accept``
  and ``reject`` moves, and submits that accepted at once with review off, counted for
  the image's annotator), open review issues on the images they labelled, annotations
  they made (``Annotation.author``), active labelling time, and submissions per day over
  the last :data:`DAYS` days (UTC).
- Per label class: annotation count and mask area (sum and mean, in image pixels).

A handful of small queries whatever the project's size: the figures are read from the
counts that :mod:`webapp.workflow.tallies` keeps (per class and author, per member and
day), and the images per state from the work items' (project, state) index.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Sum
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.projects.access import ProjectRole
from webapp.projects.models import Project
from webapp.workflow.gallery import open_issues, reviews_installed
from webapp.workflow.models import ActiveTime, DailyWork, WorkItem, WorkState
from webapp.workflow.recount import tally_figures

DAYS = 14  # the throughput window, in days, today included


def last_days(today: date | None = None) -> list[date]:
    """The :data:`DAYS` days up to ``today`` (UTC), oldest first."""
    today = today or timezone.now().date()
    return [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]


def images_by_state(project: Project) -> dict[str, int]:
    """``{state: count}`` for every state, in workflow order (zeros included)."""
    counts = dict(
        WorkItem.objects.filter(project=project)
        .order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    return {state: int(counts.get(state, 0)) for state in WorkState.values}


def label_class_figures(project: Project) -> tuple[list[dict[str, Any]], dict[int | None, int]]:
    """Per label class ``{"id", "name", "color", "annotations", "area_sum", "area_mean"}``
    (area in image pixels; mean None without annotations), and annotations per author id,
    from the project's annotation tallies."""
    per_class: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    per_author: dict[int | None, int] = defaultdict(int)
    for class_id, author_id, n, area in tally_figures(project):
        per_class[class_id][0] += n
        per_class[class_id][1] += area
        per_author[author_id] += n
    classes = []
    for label_class in project.label_classes.order_by("order", "id"):
        n, area = per_class.get(label_class.pk, (0, 0))
        classes.append(
            {
                "id": label_class.pk,
                "name": label_class.name,
                "color": label_class.color,
                "annotations": n,
                "area_sum": area,
                "area_mean": round(area / n, 1) if n else None,
            }
        )
    return classes, {author: n for author, n in per_author.items() if n}


def member_figures(
    project: Project, annotations_by_author: dict[int | None, int], days: list[date]
) -> list[dict[str, Any]]:
    """One row per member (and per former member who left figures behind), by username:
    ``{"username", "role", "submitted", "accepted", "rejected", "open_issues",
    "annotations", "active_seconds", "per_day": [submissions on each of ``days``]}``;
    ``open_issues`` is None while review issues do not exist on this server."""
    # Accepting and rejecting count for the image's annotator, not the reviewer; with
    # review off a submit accepts at once (see tallies.count_move).
    submitted: dict[int | None, int] = defaultdict(int)
    verdicts: dict[tuple[int | None, str], int] = defaultdict(int)
    per_day: dict[int | None, dict[date, int]] = defaultdict(dict)
    first_day = days[0]
    daily = (
        DailyWork.objects.filter(project=project)
        .order_by()
        .values_list("user_id", "day", "submitted", "accepted", "rejected")
    )
    for user_id, day, n_submitted, n_accepted, n_rejected in daily:
        submitted[user_id] += n_submitted
        verdicts[(user_id, "accept")] += n_accepted
        verdicts[(user_id, "reject")] += n_rejected
        if day >= first_day and n_submitted:
            per_day[user_id][day] = n_submitted
    issues: dict[int | None, int] | None = None
    if reviews_installed():
        issues = dict(
            open_issues()
            .filter(project=project)
            .order_by()
            .values_list("image__work__annotator_id")
            .annotate(n=Count("pk"))
        )
    seconds = dict(
        ActiveTime.objects.filter(project=project)
        .order_by()
        .values_list("user_id")
        .annotate(s=Sum("seconds"))
    )

    roles = dict(project.memberships.values_list("user_id", "role"))
    involved = set(roles) | set(submitted) | set(seconds) | set(annotations_by_author)
    involved |= {who for who, _ in verdicts}
    involved.discard(None)
    names = dict(get_user_model().objects.filter(pk__in=involved).values_list("pk", "username"))
    rows = []
    for user_id in involved:
        rows.append(
            {
                "username": names.get(user_id, "?"),
                "role": roles.get(user_id),
                "submitted": submitted.get(user_id, 0),
                "accepted": verdicts.get((user_id, "accept"), 0),
                "rejected": verdicts.get((user_id, "reject"), 0),
                "open_issues": None if issues is None else issues.get(user_id, 0),
                "annotations": annotations_by_author.get(user_id, 0),
                "active_seconds": int(seconds.get(user_id) or 0),
                "per_day": [per_day[user_id].get(day, 0) for day in days],
            }
        )
    rows.sort(key=lambda row: (row["role"] is None, row["username"]))
    return rows


def project_figures(project: Project) -> dict[str, Any]:
    """Everything the dashboard shows: ``{"images": {"total", "by_state"}, "members",
    "label_classes", "days": [ISO dates], "throughput": [submissions per day],
    "open_issues": total or None}`` (see the functions above for each part)."""
    days = last_days()
    by_state = images_by_state(project)
    classes, by_author = label_class_figures(project)
    members = member_figures(project, by_author, days)
    throughput = [sum(m["per_day"][n] for m in members) for n in range(len(days))]
    total_issues = None
    if reviews_installed():
        total_issues = open_issues().filter(project=project).count()
    return {
        "images": {"total": sum(by_state.values()), "by_state": by_state},
        "members": members,
        "label_classes": classes,
        "days": [day.isoformat() for day in days],
        "throughput": throughput,
        "open_issues": total_issues,
    }


class DashboardView(APIView):
    """GET: the project's figures for its lead (any member may read them): images per
    workflow state; per member submitted, accepted, rejected, open issues, annotations,
    active seconds and submissions per day over the last 14 days; per label class
    annotation counts and mask areas (pixels)."""

    permission_classes = [IsAuthenticated, ProjectRole]
    project: Project  # set by ProjectRole

    @extend_schema(responses={200: dict})
    def get(self, request: Request, project_pk: int) -> Response:
        return Response(project_figures(self.project))
