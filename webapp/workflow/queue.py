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

import operator
from dataclasses import dataclass
from datetime import timedelta
from functools import reduce
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from webapp.core import compiled
from webapp.images.models import EncodingStatus
from webapp.projects.models import Action, Project, role_allows
from webapp.workflow.models import Event, EventKind, WorkItem, WorkState

ATTEMPTS = 5  # open images tried before giving up when others keep winning them


PEOPLE = ("annotator", "reviewer", "assignee", "review_assignee")  # the members a row names


@dataclass(frozen=True)
class Pools:
    """Where one stage's next image comes from for one member, as conditions on
    :class:`WorkItem` rows of the project's ready images: ``held``, the image they hold
    already; ``mine``, their own pools in order (sent back to them, given to them);
    ``open``, what nobody holds or was given that they may take (None where the project
    hands out only what it gives)."""

    held: Q
    mine: tuple[Q, ...]
    open: Q | None

    def querysets(self, ready: QuerySet[WorkItem]) -> list[QuerySet[WorkItem]]:
        """``mine`` then ``open`` as querysets on ``ready``, in the queue's order."""
        conditions = [*self.mine, *([self.open] if self.open is not None else [])]
        return [ready.filter(condition) for condition in conditions]


def _ready(project: Project) -> QuerySet[WorkItem]:
    return WorkItem.objects.filter(project=project, image__status=EncodingStatus.READY)


def annotate_conditions(project: Project, user: Any, role: str | None) -> Pools:
    """The labelling queue of ``user``: the image they are labelling; then one sent back
    to them, one given to them; then (unless the project hands out only what it gives)
    new ones nobody was given."""
    everyone = not project.assigned_only or role_allows(role, Action.MANAGE)
    return Pools(
        held=Q(state=WorkState.ANNOTATING, annotator=user),
        mine=(
            Q(state=WorkState.REJECTED, annotator=user),
            Q(state=WorkState.NEW, assignee=user),
        ),
        open=Q(state=WorkState.NEW, assignee__isnull=True) if everyone else None,
    )


def review_conditions(project: Project, user: Any, role: str | None) -> Pools:
    """The review queue of ``user``: the image they are reviewing; then submitted images
    given to them for review; then those nobody was given; never (but for managers)
    one they labelled."""
    submitted = Q(state=WorkState.SUBMITTED)
    if not role_allows(role, Action.MANAGE):
        submitted &= ~Q(annotator=user)
    return Pools(
        held=Q(state=WorkState.IN_REVIEW, reviewer=user),
        mine=(submitted & Q(review_assignee=user),),
        open=submitted & Q(review_assignee__isnull=True),
    )


def annotate_pools(
    project: Project, user: Any, role: str | None, ready: QuerySet[WorkItem] | None = None
) -> list[QuerySet[WorkItem]]:
    """Where the next image to label comes from, in order (:func:`annotate_conditions`,
    the held image aside), as querysets on ``ready`` (default: the project's ready
    images)."""
    pools = annotate_conditions(project, user, role)
    return pools.querysets(_ready(project) if ready is None else ready)


def review_pools(
    project: Project, user: Any, role: str | None, ready: QuerySet[WorkItem] | None = None
) -> list[QuerySet[WorkItem]]:
    """Where the next image to review comes from, in order (:func:`review_conditions`,
    the held image aside), as querysets on ``ready``."""
    pools = review_conditions(project, user, role)
    return pools.querysets(_ready(project) if ready is None else ready)


def open_condition(project: Project, user: Any, role: str | None, stage: str) -> Q | None:
    """The condition on ready images nobody holds or was given that ``stage``'s queue
    may still hand ``user``; None where annotators get only what they were given."""
    conditions = annotate_conditions if stage == "annotate" else review_conditions
    return conditions(project, user, role).open


@dataclass(frozen=True)
class QueueFigures:
    """``size``: the images in a member's queue for a stage (theirs, and the open ones
    "next" would still hand them, those being prepared included); ``position``: how many
    of their own come up to a given image, in the queue's image order."""

    size: int
    position: int


def queue_figures(
    project: Project, user: Any, role: str | None, stage: str, up_to: int
) -> QueueFigures:
    """The figures of ``user``'s ``stage`` queue (``annotate`` or ``review``), with the
    position counted up to image ``up_to``: one aggregate on the project's work items,
    compiled once per process for each shape of queue (:mod:`webapp.core.compiled`), as
    it cost more CPU to build than the database takes to count."""
    manages = role_allows(role, Action.MANAGE)
    has_open = open_condition(project, user, role, stage) is not None

    def build(project_id: int, user_id: int, image_id: int) -> QuerySet[Any]:
        member = get_user_model()(pk=user_id)
        if stage == "annotate":
            mine = (Q(assignee=member) | Q(annotator=member)) & ~Q(state=WorkState.SKIPPED)
        else:
            mine = Q(reviewer=member) | Q(review_assignee=member)
        open_images = open_condition(project, member, role, stage)
        wanted = mine if open_images is None else mine | open_images
        figures: dict[str, Any] = {
            "size": Count("pk", filter=mine),
            "position": Count("pk", filter=mine & Q(image_id__lte=image_id)),
            "open": Count("pk", filter=open_images) if open_images is not None else Value(0),
        }
        return (
            WorkItem.objects.filter(project_id=project_id)
            .filter(wanted)
            .order_by()
            .values("project_id")
            .annotate(**figures)
            .values_list("size", "position", "open")
        )

    shape = ("queue figures", stage, manages, has_open)
    found = compiled.rows(shape, build, project.pk, user.pk, up_to)
    size, position, open_count = found[0] if found else (0, 0, 0)
    return QueueFigures(size=int(size) + int(open_count), position=int(position))


def next_to_annotate(project: Project, user: Any, role: str | None) -> WorkItem | None:
    """The image ``user`` should label next, now held by them: the one they hold
    already, else one a reviewer sent back to them, else one given to them, else (unless
    the project hands out only assigned images) the first new one nobody was given.
    None when there is nothing for them."""
    return _next_for(
        project,
        user,
        annotate_conditions(project, user, role),
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
        review_conditions(project, user, role),
        action="start_review",
        fields={"state": WorkState.IN_REVIEW, "reviewer": user},
    )


# What the candidate reads fetch: the work item's own columns and, of the image (joined
# anyway for its encoding status), only its name, which the answer shows.
def _with_name(rows: QuerySet[WorkItem]) -> QuerySet[WorkItem]:
    return rows.select_related("image").only(
        *(field.name for field in WorkItem._meta.concrete_fields), "image__original_name"
    )


def _next_for(
    project: Project, user: Any, pools: Pools, *, action: str, fields: dict[str, Any]
) -> WorkItem | None:
    """The image ``user`` holds already (its lease renewed), else the first of their own
    pools, else the first open image, claimed with ``fields`` by ``action``. One
    transaction for all of it, in at most two reads before the claim:

    - the member's own rows (held, sent back, given: few, and only ever theirs) in one
      read ranked in the queue's order, locked (``FOR UPDATE``; only their own requests
      could hold these locks);
    - the open images, the first one nobody else has locked (``SKIP LOCKED``), in image
      order through the (project, state) index.

    The row read is the answer: the claim's changes are made to it in memory as the
    update makes them in the table, so it is not read again.
    """
    ready = _ready(project)
    ranks = [When(pools.held, then=Value(0))]
    ranks += [When(condition, then=Value(n)) for n, condition in enumerate(pools.mine, 1)]
    own = ready.filter(reduce(operator.or_, [pools.held, *pools.mine]))
    with transaction.atomic():
        item = (
            _with_name(own)
            .annotate(rank=Case(*ranks, output_field=IntegerField()))
            .select_for_update(of=("self",))
            .order_by("rank", "image_id")
            .first()
        )
        lease = timezone.now() + timedelta(minutes=project.lease_minutes)
        if item is not None and item.rank == 0:
            WorkItem.objects.filter(pk=item.pk, state=item.state).update(lease_expires_at=lease)
            item.lease_expires_at = lease
            return _with_people(item, user)
        fields = {**fields, "lease_expires_at": lease}
        if item is not None and _claim(project, item, action, fields, user):
            return _with_people(item, user)
        if pools.open is None:
            return None
        candidates = (
            _with_name(ready.filter(pools.open))
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("image_id")
        )
        for _ in range(ATTEMPTS):
            item = candidates.first()
            if item is None:
                return None
            if _claim(project, item, action, fields, user):
                return _with_people(item, user)
    return None


def _claim(
    project: Project, item: WorkItem, action: str, fields: dict[str, Any], user: Any
) -> bool:
    """Hold the candidate ``item`` for ``user`` with ``fields``: one update conditional on
    the version read, and the move's event; on success ``item`` is changed in memory as
    in the table. False when someone changed the row since (another request won it).
    Runs inside the caller's transaction."""
    now = timezone.now()
    claimed = WorkItem.objects.filter(pk=item.pk, version=item.version).update(
        **fields, changed_at=now, version=F("version") + 1
    )
    if not claimed:
        return False
    Event.objects.create(
        project_id=project.pk, kind=EventKind.TRANSITION, actor=user, image_id=item.pk,
        image_name=item.image.original_name, action=action, from_state=item.state,
        to_state=fields["state"], at=now,
    )  # fmt: skip
    for name, value in fields.items():
        setattr(item, name, value)
    item.changed_at, item.version = now, item.version + 1
    return True


def _with_people(item: WorkItem, user: Any) -> WorkItem:
    """``item`` with the members it names, which its answer shows: ``user`` (who now
    holds it) as is, any others read in one query."""
    people = {user.pk: user}
    ids = [getattr(item, f"{name}_id") for name in PEOPLE]
    others = {pk for pk in ids if pk is not None and pk not in people}
    if others:
        people.update(get_user_model().objects.in_bulk(others))
    for name, pk in zip(PEOPLE, ids, strict=True):
        setattr(item, name, people.get(pk) if pk is not None else None)
    return item


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
