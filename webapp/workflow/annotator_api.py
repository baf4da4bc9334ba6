"""What the annotator page needs of the workflow beyond its JSON API: the images a
member's queue would hand out next, read without claiming them, so that the page can
download them (configuration, picture, embedding) before the member submits the one on
screen, as ← / → do for the project's next images.

The order is :func:`webapp.workflow.queue.next_to_annotate`'s and
:func:`~webapp.workflow.queue.next_to_review`'s; a guess only (someone else may claim one
first), which costs nothing but a download when it is wrong.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from webapp.images.models import EncodingStatus
from webapp.projects.models import Action, Project, role_allows
from webapp.workflow.models import WorkItem, WorkState


def upcoming(
    project: Project,
    user: Any,
    role: str | None,
    stage: str,
    exclude: int | None = None,
    limit: int = 2,
) -> list[WorkItem]:
    """Up to ``limit`` images that ``stage``'s queue ("annotate" or "review") would give
    ``user`` next, in that order, leaving out image ``exclude`` (the one on screen).
    Nothing is claimed."""
    ready = WorkItem.objects.filter(project=project, image__status=EncodingStatus.READY)
    if exclude is not None:
        ready = ready.exclude(pk=exclude)
    pools: list[QuerySet[WorkItem]]
    if stage == "annotate":
        pools = [
            ready.filter(state=WorkState.REJECTED, annotator=user),
            ready.filter(state=WorkState.NEW, assignee=user),
        ]
        if not project.assigned_only or role_allows(role, Action.MANAGE):
            pools.append(ready.filter(state=WorkState.NEW, assignee__isnull=True))
    else:
        submitted = ready.filter(state=WorkState.SUBMITTED)
        if not role_allows(role, Action.MANAGE):
            submitted = submitted.exclude(annotator=user)
        pools = [
            submitted.filter(review_assignee=user),
            submitted.filter(review_assignee__isnull=True),
        ]
    found: list[WorkItem] = []
    for pool in pools:
        if len(found) >= limit:
            break
        found += pool.select_related("image").order_by("image_id")[: limit - len(found)]
    return found
