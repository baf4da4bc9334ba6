"""Work on a project that spans several models: figures about its images, label classes
and annotations; inviting people by e-mail; deleting a project with its stored files."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import models, transaction
from django.db.models import Count, Q

from webapp.annotations.models import Annotation
from webapp.images.models import EncodingStatus, Image
from webapp.projects.models import Invitation, Project

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

log = logging.getLogger(__name__)


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


class InvitationNotSent(Exception):
    """The e-mail could not be sent; no invitation was kept."""


def invite(
    project: Project,
    email: str,
    role: str,
    *,
    invited_by: AbstractBaseUser,
    by_role: str | None,
    link_for: Callable[[str], str],
) -> Invitation:
    """Invite ``email`` to ``project`` in ``role`` and e-mail them the link.

    ``link_for(token)`` gives the absolute URL of the page that accepts the invitation.
    The invitation is kept only if the e-mail was handed to the mail backend; otherwise
    InvitationNotSent (and OwnerRoleReserved as :meth:`Invitation.issue`).
    """
    inviter = invited_by.get_username()
    with transaction.atomic():
        invitation, token = Invitation.issue(
            project, email, role, invited_by=invited_by, by_role=by_role
        )
        body = (
            f'{inviter} invites you to the project "{project.name}" on samlabel, '
            f"as {role}.\n\n"
            f"Choose a username and a password here:\n{link_for(token)}\n\n"
            f"The link works once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC.\n"
        )
        try:
            send_mail(
                f"Join {project.name} on samlabel",
                body,
                settings.DEFAULT_FROM_EMAIL,
                [email],
            )
        except Exception as exc:
            log.exception("could not send the invitation to %s", email)
            transaction.set_rollback(True)
            raise InvitationNotSent(
                f"The invitation e-mail could not be sent ({exc.__class__.__name__}); "
                "check the server's e-mail settings."
            ) from None
    return invitation


def delete_project(project: Project) -> None:
    """Delete ``project`` with its images, annotations, embeddings, exports and other
    rows, and, once that is committed, the stored files nobody else uses.

    Images go first (:meth:`Image.delete_with_files` keeps embedding files that another
    project's identical picture still names); annotations protect their label class,
    so they must be gone before the project's classes are.
    """
    with transaction.atomic():
        for image in Image.objects.filter(project=project).iterator():
            image.delete_with_files()
        stored = _stored_files(project)
        project.delete()
        transaction.on_commit(lambda: _delete_files(stored))


def _stored_files(project: Project) -> list[tuple[Any, str]]:
    """(storage, name) of every file that rows pointing at ``project`` hold (exports...)."""
    found = []
    for relation in project._meta.related_objects:
        if relation.many_to_many or relation.related_model is Image:
            continue
        model = relation.related_model
        for field in model._meta.get_fields():
            if not isinstance(field, models.FileField):
                continue
            rows = model._default_manager.filter(**{relation.field.name: project})
            for name in rows.exclude(**{field.name: ""}).values_list(field.name, flat=True):
                found.append((field.storage, name))
    return found


def _delete_files(stored: list[tuple[Any, str]]) -> None:
    for storage, name in stored:
        try:
            storage.delete(name)
        except Exception:
            log.warning("could not delete the stored file %s", name, exc_info=True)
