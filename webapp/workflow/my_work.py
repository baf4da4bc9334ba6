"""A member's own work in a project, for the card on the project page: what was given to
them, what they hold, what came back to them from review (with its open issues), what
waits for review and what passed; for reviewers, what waits for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import Count, Q

from webapp.projects.models import Action, Project, role_allows
from webapp.workflow.models import WorkItem, WorkState

SHOWN = 10  # images listed under "back to you", the rest are counted


@dataclass
class MyWork:
    given: int = 0  # given to me, not started
    holding: int = 0  # annotating, held by me
    returned: int = 0  # rejected, back with me
    submitted: int = 0  # mine, waiting for or in review
    accepted: int = 0  # mine, accepted
    returned_images: list[dict[str, Any]] = field(default_factory=list)
    to_review: int | None = None  # for reviewers: submitted by others, open to them
    reviewing: int = 0  # in review, held by me

    @property
    def total(self) -> int:
        return self.given + self.holding + self.returned + self.submitted + self.accepted


def my_work(project: Project, user: Any, role: str | None) -> MyWork:
    """Counts in two queries (one for the labelling side, one for review), plus the list
    of images sent back to ``user``."""
    items = WorkItem.objects.filter(project=project)
    mine = items.filter(Q(assignee=user) | Q(annotator=user))
    counts = mine.aggregate(
        given=Count("pk", filter=Q(state=WorkState.NEW, assignee=user)),
        holding=Count("pk", filter=Q(state=WorkState.ANNOTATING, annotator=user)),
        returned=Count("pk", filter=Q(state=WorkState.REJECTED, annotator=user)),
        submitted=Count(
            "pk",
            filter=Q(state__in=[WorkState.SUBMITTED, WorkState.IN_REVIEW], annotator=user),
        ),
        accepted=Count("pk", filter=Q(state=WorkState.ACCEPTED, annotator=user)),
    )
    work = MyWork(**counts)
    returned = mine.filter(state=WorkState.REJECTED, annotator=user).select_related("image")
    if apps.is_installed("webapp.reviews"):
        returned = returned.annotate(
            open_issues=Count("image__issues", filter=Q(image__issues__status="open"))
        )
    work.returned_images = [
        {
            "id": item.image_id,
            "name": item.image.original_name,
            "reason": item.reason,
            "open_issues": getattr(item, "open_issues", 0),
        }
        for item in returned.order_by("image_id")[:SHOWN]
    ]
    if role_allows(role, Action.REVIEW):
        review = items.aggregate(
            to_review=Count(
                "pk",
                filter=Q(state=WorkState.SUBMITTED)
                & (Q(review_assignee__isnull=True) | Q(review_assignee=user))
                & ~Q(annotator=user),
            ),
            reviewing=Count("pk", filter=Q(state=WorkState.IN_REVIEW, reviewer=user)),
        )
        work.to_review, work.reviewing = review["to_review"], review["reviewing"]
    return work
