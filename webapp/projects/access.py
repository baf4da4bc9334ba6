"""The one way views find a project for a user: members see it, outsiders get 404.

Every view of anything inside a project (images, thumbnails, embeddings, annotations,
exports) goes through :func:`project_for` so that an outsider learns nothing, not even
that the project exists; a member whose role is too low gets 403.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from rest_framework import permissions

from webapp.core.fields import MAX_ROW_ID
from webapp.projects.models import Action, Membership, Project, role_allows


def project_for(user: Any, project_id: object, action: str = Action.VIEW) -> Project:
    """The project ``project_id`` if ``user`` may do ``action`` there.

    Raises Http404 for non-members (and unknown or malformed ids) and PermissionDenied
    for members whose role does not allow ``action``.
    """
    try:
        pk = int(str(project_id))
    except (ValueError, TypeError):
        pk = 0
    project = project_with_role(pk, user.pk) if user.is_authenticated else None
    role = getattr(project, "user_role", None)
    if project is None or role is None:
        raise Http404("No such project.")
    project.known_role = (user.pk, role)
    if not role_allows(role, action):
        raise PermissionDenied(f"Your role in this project does not allow: {action}.")
    return project


def project_with_role(pk: int, user_id: int) -> Project | None:
    """Project ``pk`` with ``user_role``, the role of user ``user_id`` there (None for a
    non-member), in one statement; None when there is no such project (or ``pk`` is no
    row id). Every request inside a project asks this, so it is written as SQL once
    (:func:`_project_with_role_sql`) rather than built by the ORM each time, which cost
    more than the query itself: the same rows as ``Project.objects.with_role_of(user)``,
    read through the model's own fields and converters."""
    if not 1 <= pk <= MAX_ROW_ID:
        return None
    return next(iter(Project.objects.raw(_project_with_role_sql(), [user_id, pk])), None)


@cache
def _project_with_role_sql() -> str:
    """``SELECT <project's columns>, <role> AS user_role`` of one project, joined to the
    user's membership there (at most one: a unique constraint); parameters user id,
    project id."""
    quote = connection.ops.quote_name
    project, member = Project._meta, Membership._meta
    columns = ", ".join(f"p.{quote(field.column)}" for field in project.concrete_fields)
    role, of_project, of_user = (
        quote(member.get_field(name).column) for name in ("role", "project", "user")
    )
    return (
        f"SELECT {columns}, m.{role} AS user_role FROM {quote(project.db_table)} p "
        f"LEFT JOIN {quote(member.db_table)} m ON m.{of_project} = p.{quote(project.pk.column)} "
        f"AND m.{of_user} = %s WHERE p.{quote(project.pk.column)} = %s"
    )


class ProjectRole(permissions.BasePermission):
    """For API views with a ``project_pk`` URL argument: reading needs the view's
    ``read_action`` (default ``view``); writing needs its ``write_action`` (default
    ``manage``)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        action = getattr(view, "read_action", Action.VIEW)
        if request.method not in permissions.SAFE_METHODS:
            action = getattr(view, "write_action", Action.MANAGE)
        view.project = project_for(request.user, view.kwargs["project_pk"], action)
        return True
