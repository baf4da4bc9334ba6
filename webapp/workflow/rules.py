"""The workflow's moves, who may make each, and the one way they are made.

===============  ================================  =====================  ============
action           from                              to                     least role
===============  ================================  =====================  ============
start            new, rejected                     annotating             annotator
submit           annotating                        submitted (accepted    annotator
                                                   when review is off)
release          annotating                        new (rejected if a     annotator
                                                   reviewer sent it back)
start_review     submitted                         in_review              reviewer
accept           in_review                         accepted               reviewer
reject           in_review                         rejected               reviewer
release_review   in_review                         submitted              reviewer
skip             new, annotating, submitted,       skipped                manager
                 in_review, rejected
reopen           annotating, submitted,            new                    manager
                 in_review, accepted, rejected,
                 skipped
===============  ================================  =====================  ============

Besides the role: only the annotator holding an image (or who was sent it back) submits,
releases or restarts it; only the reviewer holding it accepts, rejects or releases it; a
reviewer never reviews an image they labelled; with "assigned only", annotators start only
images given to them. Managers and owners may do every move on every image.

Refusals raise :class:`MoveRefused`: ``status`` 403 when the person's role or part does not
allow the move, 409 when the image is not in a state the move starts from (the message
says which state, and who holds it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from webapp.projects.models import Action, Project, role_allows
from webapp.workflow.models import Event, EventKind, WorkItem, WorkState
from webapp.workflow.tallies import count_move

S = WorkState


class MoveRefused(Exception):
    """A move the rules refuse; ``status`` is the HTTP status that says why (403, 409)."""

    def __init__(self, message: str, status: int, item: WorkItem | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.item = item


@dataclass(frozen=True)
class Move:
    sources: frozenset[str]
    least: str  # an Action a role must allow
    verb: str  # for messages: "submit", "start reviewing"

    def allows_from(self, state: str) -> bool:
        return state in self.sources


MOVES: dict[str, Move] = {
    "start": Move(frozenset({S.NEW, S.REJECTED}), Action.ANNOTATE, "start labelling"),
    "submit": Move(frozenset({S.ANNOTATING}), Action.ANNOTATE, "submit"),
    "release": Move(frozenset({S.ANNOTATING}), Action.ANNOTATE, "give back"),
    "start_review": Move(frozenset({S.SUBMITTED}), Action.REVIEW, "start reviewing"),
    "accept": Move(frozenset({S.IN_REVIEW}), Action.REVIEW, "accept"),
    "reject": Move(frozenset({S.IN_REVIEW}), Action.REVIEW, "reject"),
    "release_review": Move(frozenset({S.IN_REVIEW}), Action.REVIEW, "give back the review of"),
    "skip": Move(
        frozenset({S.NEW, S.ANNOTATING, S.SUBMITTED, S.IN_REVIEW, S.REJECTED}),
        Action.MANAGE,
        "skip",
    ),
    "reopen": Move(
        frozenset({S.ANNOTATING, S.SUBMITTED, S.IN_REVIEW, S.ACCEPTED, S.REJECTED, S.SKIPPED}),
        Action.MANAGE,
        "reopen",
    ),
}

ACTIONS = tuple(MOVES)


def refusal(item: WorkItem, action: str, user: Any, role: str | None) -> MoveRefused | None:
    """Why ``user`` (with ``role`` in the project) may not make ``action`` on ``item`` now,
    or None when they may."""
    move = MOVES[action]
    name = repr(item.image.original_name)
    if not role_allows(role, move.least):
        return MoveRefused(f"Your role in this project does not allow you to {move.verb}.", 403)
    if not move.allows_from(item.state):
        return MoveRefused(f"Cannot {move.verb} {name}: {item.describe()}.", 409, item)
    if role_allows(role, Action.MANAGE):
        return None
    project: Project = item.project
    if action == "start" and item.state == S.NEW:
        if item.assignee_id is not None and item.assignee_id != user.pk:
            return MoveRefused(f"Cannot {move.verb} {name}: {item.describe()}.", 409, item)
        if item.assignee_id is None and project.assigned_only:
            return MoveRefused(
                f"In this project annotators label only the images given to them, and "
                f"{name} was not given to you.",
                403,
            )
    elif action in {"start", "submit", "release"}:
        if item.annotator_id != user.pk:
            return MoveRefused(f"Cannot {move.verb} {name}: {item.describe()}.", 409, item)
    elif action == "start_review":
        if item.annotator_id == user.pk:
            return MoveRefused(
                f"You labelled {name}; someone else must review it.", 403, item
            )  # fmt: skip
        if item.review_assignee_id is not None and item.review_assignee_id != user.pk:
            return MoveRefused(
                f"Cannot {move.verb} {name}: its review was given to someone else.", 409, item
            )
    elif item.reviewer_id != user.pk:  # accept, reject, release_review
        return MoveRefused(f"Cannot {move.verb} {name}: {item.describe()}.", 409, item)
    return None


def changes(item: WorkItem, action: str, user: Any) -> dict[str, Any]:
    """The fields ``action`` sets on ``item`` (state included)."""
    project: Project = item.project
    lease = item.lease_until(project)
    match action:
        case "start":
            return {"state": S.ANNOTATING, "annotator": user, "lease_expires_at": lease}
        case "submit":
            if project.review_required:
                return {"state": S.SUBMITTED, "lease_expires_at": None}
            return {"state": S.ACCEPTED, "lease_expires_at": None}
        case "release":
            if item.reviewer_id is not None:
                return {"state": S.REJECTED, "lease_expires_at": None}
            return {"state": S.NEW, "annotator": None, "lease_expires_at": None}
        case "start_review":
            return {"state": S.IN_REVIEW, "reviewer": user, "lease_expires_at": lease}
        case "accept":
            return {"state": S.ACCEPTED, "lease_expires_at": None, "reviewer": user}
        case "reject":
            return {"state": S.REJECTED, "lease_expires_at": None, "reviewer": user}
        case "release_review":
            return {"state": S.SUBMITTED, "reviewer": None, "lease_expires_at": None}
        case "skip":
            return {"state": S.SKIPPED, "lease_expires_at": None}
        case "reopen":
            return {
                "state": S.NEW,
                "annotator": None,
                "reviewer": None,
                "lease_expires_at": None,
                "reason": "",
            }
    raise KeyError(action)


def perform(item: WorkItem, action: str, user: Any, role: str | None, reason: str = "") -> WorkItem:
    """Make ``action`` on ``item`` for ``user`` if the rules allow it and nobody changed
    the image meanwhile; record it as an event; return the item as it is now (``item``
    itself, changed as the table was: the members it names are those already loaded
    with it and the ones the move set).

    Raises :class:`MoveRefused` (403 or 409) otherwise, and KeyError for an unknown action.
    Skipping needs a reason.
    """
    if action not in MOVES:
        raise KeyError(action)
    refused = refusal(item, action, user, role)
    if refused is not None:
        raise refused
    reason = reason.strip()
    if action == "skip" and not reason:
        raise MoveRefused("Say why the image is skipped (a reason is required).", 400)
    # Quality rules (issue 17): the image is checked at submit and accept; errors refuse
    # the move unless a reason is given (webapp.qualityrules.gate).
    if action in {"submit", "accept"}:
        from webapp.qualityrules.gate import check_before_move

        check_before_move(item, action, user, reason)
    fields = changes(item, action, user)
    if action in {"skip", "reject"}:
        fields["reason"] = reason
    now = timezone.now()
    with transaction.atomic():
        moved = WorkItem.objects.filter(pk=item.pk, version=item.version).update(
            **fields, changed_at=now, version=F("version") + 1
        )
        if not moved:
            current = WorkItem.objects.select_related(
                "image", "project", "annotator", "reviewer", "assignee"
            ).get(pk=item.pk)
            raise MoveRefused(
                f"Cannot {MOVES[action].verb} {current.image.original_name!r}: someone changed "
                f"it meanwhile; {current.describe()}.",
                409,
                current,
            )
        Event.record(
            EventKind.TRANSITION,
            project=item.project_id,
            actor=user,
            image=item.image,
            action=action,
            from_state=item.state,
            to_state=fields["state"],
            detail={"reason": reason} if reason else {},
            at=now,
        )
        if fields["state"] == S.ACCEPTED:
            from webapp.annotations.models import Annotation

            Annotation.classes_checked(item.image_id)
        count_move(
            item.project_id,
            action,
            fields["state"],
            getattr(user, "pk", None),
            item.annotator_id,
            now.date(),
        )
    # The update changed the row from the version read to exactly these values, so the
    # item is brought up to date in memory rather than read again (with its six joins).
    for name, value in fields.items():
        setattr(item, name, value)
    item.changed_at, item.version = now, item.version + 1
    return item
