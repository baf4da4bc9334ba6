"""Handing out work: the next image to label or to review, held for one person.

Two people asking at the same moment never get the same image. On PostgreSQL the
candidate row is locked with ``SELECT … FOR UPDATE SKIP LOCKED``, so a second request skips
it instead of waiting; on SQLite, where every write transaction takes the database's write
lock when it begins (``transaction_mode=IMMEDIATE``), the requests run one after another.
On both, the claim itself is a conditional update on the row's version, so even a
candidate read without a lock cannot be handed out twice.

Only images whose embedding is ready are handed out: the annotator would otherwise wait
for the encoder.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from webapp.images.models import EncodingStatus
from webapp.projects.models import Action, Project, role_allows
from webapp.workflow.models import Event, EventKind, WorkItem, WorkState

ATTEMPTS = 5  # candidates tried before giving up when others keep winning them


RELATED = ("image", "project", "annotator", "reviewer", "assignee", "review_assignee")


def _claim(
    candidates: QuerySet[WorkItem], action: str, fields: dict[str, Any], user: Any
) -> WorkItem | None:
    """Hold the first of ``candidates`` for ``user``; None when there is none (or others
    kept winning them). Runs inside the caller's transaction."""
    for _ in range(ATTEMPTS):
        item = (
            candidates.select_related(*RELATED)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("image_id")
            .first()
        )
        if item is None:
            return None
        now = timezone.now()
        claimed = WorkItem.objects.filter(pk=item.pk, version=item.version).update(
            **fields, changed_at=now, version=F("version") + 1
        )
        if claimed:
            Event.record(
                EventKind.TRANSITION,
                project=item.project_id,
                actor=user,
                image=item.image,
                action=action,
                from_state=item.state,
                to_state=fields["state"],
                at=now,
            )
            # The row as the update left it, without reading it again.
            for name, value in fields.items():
                setattr(item, name, value)
            item.changed_at, item.version = now, item.version + 1
            return item
    return None


def _ready(project: Project) -> QuerySet[WorkItem]:
    return WorkItem.objects.filter(project=project, image__status=EncodingStatus.READY)


def annotate_pools(
    project: Project, user: Any, role: str | None, ready: QuerySet[WorkItem] | None = None
) -> list[QuerySet[WorkItem]]:
    """Where the next image to label comes from, in order: sent back to ``user``, given
    to them, then (unless the project hands out only what it gives) new ones nobody was
    given. ``ready``: the ready images to pick from (default: all of the project's)."""
    ready = _ready(project) if ready is None else ready
    pools = [
        ready.filter(state=WorkState.REJECTED, annotator=user),
        ready.filter(state=WorkState.NEW, assignee=user),
    ]
    if not project.assigned_only or role_allows(role, Action.MANAGE):
        pools.append(ready.filter(state=WorkState.NEW, assignee__isnull=True))
    return pools


def review_pools(
    project: Project, user: Any, role: str | None, ready: QuerySet[WorkItem] | None = None
) -> list[QuerySet[WorkItem]]:
    """Where the next image to review comes from, in order: submitted images given to
    ``user`` for review, then those nobody was given; never (but for managers) one they
    labelled."""
    submitted = (_ready(project) if ready is None else ready).filter(state=WorkState.SUBMITTED)
    if not role_allows(role, Action.MANAGE):
        submitted = submitted.exclude(annotator=user)
    return [
        submitted.filter(review_assignee=user),
        submitted.filter(review_assignee__isnull=True),
    ]


def open_pool(project: Project, user: Any, role: str | None, stage: str) -> QuerySet[WorkItem]:
    """The ready images nobody holds or was given that ``stage``'s queue may still hand
    ``user`` (none where annotators get only what they were given)."""
    if stage == "annotate":
        pools = annotate_pools(project, user, role)
        return pools[2] if len(pools) == 3 else _ready(project).none()
    return review_pools(project, user, role)[1]


def next_to_annotate(project: Project, user: Any, role: str | None) -> WorkItem | None:
    """The image ``user`` should label next, now held by them: the one they hold
    already, else one a reviewer sent back to them, else one given to them, else (unless
    the project hands out only assigned images) the first new one nobody was given.
    None when there is nothing for them."""
    return _next_for(
        project,
        user,
        held=Q(state=WorkState.ANNOTATING, annotator=user),
        pools=annotate_pools(project, user, role),
        action="start",
        fields={"state": WorkState.ANNOTATING, "annotator": user},
    )


def next_to_review(project: Project, user: Any, role: str | None) -> WorkItem | None:
    """The submitted image ``user`` should review next, now held by them: the one they
    are reviewing already, else one given to them, else the first submitted one nobody
    was given; never one they labelled. None when there is nothing for them."""
    return _next_for(
        project,
        user,
        held=Q(state=WorkState.IN_REVIEW, reviewer=user),
        pools=review_pools(project, user, role),
        action="start_review",
        fields={"state": WorkState.IN_REVIEW, "reviewer": user},
    )


def _next_for(
    project: Project,
    user: Any,
    *,
    held: Q,
    pools: list[QuerySet[WorkItem]],
    action: str,
    fields: dict[str, Any],
) -> WorkItem | None:
    """The image ``user`` holds already (``held``; its lease renewed), else the first of
    ``pools`` claimed with ``fields`` by ``action``. One transaction for all of it."""
    with transaction.atomic():
        holding = _ready(project).filter(held).select_related(*RELATED).first()
        if holding is not None:
            holding.lease_expires_at = renew_lease(holding)
            return holding
        fields = {**fields, "lease_expires_at": timezone.now() + _lease(project)}
        for pool in pools:
            item = _claim(pool, action, fields, user)
            if item is not None:
                return item
    return None


def _lease(project: Project) -> Any:
    from datetime import timedelta

    return timedelta(minutes=project.lease_minutes)


def renew_lease(item: WorkItem) -> Any:
    """Push the holder's lease forward (they are active on the image); the new end."""
    until = item.lease_until()
    WorkItem.objects.filter(pk=item.pk, state=item.state).filter(
        Q(state=WorkState.ANNOTATING) | Q(state=WorkState.IN_REVIEW)
    ).update(lease_expires_at=until)
    return until


def release_expired_leases() -> int:
    """Give back every image whose holder's lease has passed: annotating → new (or
    rejected, if a reviewer sent it back), in review → submitted. Each is one
    conditional update, so an image its holder touched meanwhile stays theirs. Returns
    how many were given back."""
    released = 0
    for item in WorkItem.objects.expired_leases().select_related("image"):
        if item.state == WorkState.ANNOTATING:
            fields: dict[str, Any] = (
                {"state": WorkState.REJECTED}
                if item.reviewer_id is not None
                else {"state": WorkState.NEW, "annotator": None}
            )
        else:
            fields = {"state": WorkState.SUBMITTED, "reviewer": None}
        now = timezone.now()
        with transaction.atomic():
            moved = WorkItem.objects.filter(
                pk=item.pk, version=item.version, lease_expires_at__lt=now
            ).update(**fields, lease_expires_at=None, changed_at=now, version=F("version") + 1)
            if moved:
                released += 1
                Event.record(
                    EventKind.TRANSITION,
                    project=item.project_id,
                    actor=None,
                    image=item.image,
                    action="lease_expired",
                    from_state=item.state,
                    to_state=fields["state"],
                    at=now,
                )
    return released
