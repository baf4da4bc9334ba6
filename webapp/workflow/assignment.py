"""Managers giving images to members, and taking them back.

Giving an image sets who should do a stage (``assignee`` to label, ``review_assignee`` to
review); it does not move the image: someone already holding it keeps it until they
submit or give it back. Accepted and skipped images are never given out.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from webapp.projects.models import Action, Membership, Project, role_allows
from webapp.workflow.models import Event, EventKind, WorkItem, WorkState

STAGE_FIELD = {"annotate": "assignee", "review": "review_assignee"}
STAGE_ACTION = {"annotate": Action.ANNOTATE, "review": Action.REVIEW}
NOT_GIVEN_OUT = [WorkState.ACCEPTED, WorkState.SKIPPED]


class AssignmentRefused(Exception):
    """The request names someone who cannot take the work; the message says who and why."""


def members_for(project: Project, usernames: list[str], stage: str) -> list[Any]:
    """The users named, in order, each a member whose role can do ``stage``."""
    users = {
        m.user.get_username(): m
        for m in Membership.objects.filter(
            project=project, user__username__in=usernames
        ).select_related("user")
    }
    chosen = []
    for name in usernames:
        membership = users.get(name)
        if membership is None:
            raise AssignmentRefused(f"{name!r} is not a member of this project.")
        if not role_allows(membership.role, STAGE_ACTION[stage]):
            raise AssignmentRefused(
                f"{name} is a {membership.role} here and cannot {stage} images."
            )
        chosen.append(membership.user)
    return chosen


def assign(
    items: QuerySet[WorkItem], stage: str, people: list[Any] | None, by: Any
) -> dict[str, int]:
    """Give ``items`` for ``stage``: all to ``people[0]``, split evenly among ``people``
    (in image order, round the table) when there are several, or take them back when
    ``people`` is None. Returns how many each username got (``""`` for taken back)."""
    field = STAGE_FIELD[stage]
    ids = list(
        items.exclude(state__in=NOT_GIVEN_OUT).order_by("image_id").values_list("pk", flat=True)
    )
    counts: dict[str, int] = {}
    with transaction.atomic():
        if not people:
            WorkItem.objects.filter(pk__in=ids).update(**{field: None})
            counts[""] = len(ids)
        else:
            for n, person in enumerate(people):
                share = ids[n :: len(people)]
                for start in range(0, len(share), 1000):
                    WorkItem.objects.filter(pk__in=share[start : start + 1000]).update(
                        **{field: person}
                    )
                counts[person.get_username()] = len(share)
        project_id = items.values_list("project_id", flat=True).first()
        if project_id is not None and ids:
            Event.record(
                EventKind.ASSIGNED,
                project=project_id,
                actor=by,
                detail={"stage": stage, "counts": counts, "images": len(ids)},
            )
    return counts
