"""What the annotator page needs of the workflow beyond its JSON API: the images a
member's queue would hand out next, read without claiming them, so that the page can
download them (configuration, picture, embedding) before the member submits the one on
screen, as ← / → do for the project's next images.

The order is the queue's own (:func:`webapp.workflow.queue.annotate_pools` and
:func:`~webapp.workflow.queue.review_pools`); a guess only (someone else may claim one
first), which costs nothing but a download when it is wrong.
"""

from __future__ import annotations

from typing import Any

from webapp.images.models import EncodingStatus
from webapp.projects.models import Project
from webapp.workflow.models import WorkItem
from webapp.workflow.queue import annotate_pools, review_pools


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
    pools = (annotate_pools if stage == "annotate" else review_pools)(project, user, role, ready)
    found: list[WorkItem] = []
    for pool in pools:
        if len(found) >= limit:
            break
        found += pool.select_related("image").order_by("image_id")[: limit - len(found)]
    return found
