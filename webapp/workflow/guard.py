"""Who may change an image's annotations now, by the workflow: the stage rules, enforced.

Managers and owners always may. Anyone else only on an image that is theirs at this
stage: one they are labelling (or, as its reviewer, reviewing: a reviewer may fix a mask),
or one they may start labelling, which saving then starts for them (a new image nobody
else was given, or one a reviewer sent back to them). A submitted, accepted or skipped
image, or one someone else holds, is refused with a sentence that says where it is, so
that a rejected image goes back to its annotator alone and a submitted one does not change
under its reviewer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from webapp.images.models import Image
from webapp.projects.models import Action, Project, role_allows
from webapp.workflow.models import WorkItem, WorkState
from webapp.workflow.rules import MoveRefused, perform


class EditRefused(Exception):
    """The workflow does not let this person change this image's annotations now."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def claim_for_edit(image: Image, user: Any, role: str | None, project: Project) -> None:
    """Return when ``user`` may change ``image``'s annotations, having started the image
    for them if saving does that; raise :class:`EditRefused` otherwise. ``project`` is
    the image's (for its lease)."""
    if role_allows(role, Action.MANAGE):
        return
    # The common case, a holder saving, is one statement: it also renews their lease.
    until = timezone.now() + timedelta(minutes=project.lease_minutes)
    holding = Q(state=WorkState.ANNOTATING, annotator=user) | Q(
        state=WorkState.IN_REVIEW, reviewer=user
    )
    if WorkItem.objects.filter(holding, pk=image.pk).update(lease_expires_at=until):
        return
    item = (
        WorkItem.objects.select_related("image", "project", "annotator", "reviewer", "assignee")
        .filter(pk=image.pk)
        .first()
    )
    if item is None:
        return  # an image without a workflow row has no stage to keep
    if item.state in (WorkState.NEW, WorkState.REJECTED):
        try:
            perform(item, "start", user, role)
        except MoveRefused as refused:
            raise EditRefused(f"Cannot change the annotations: {refused}", refused.status) from None
        return
    raise EditRefused(f"Cannot change the annotations: {item.describe()}.")
