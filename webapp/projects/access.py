"""The one way views find a project for a user: members see it, outsiders get 404.

Every view of anything inside a project (images, thumbnails, embeddings, annotations,
exports) goes through :func:`project_for` so that an outsider learns nothing, not even
that the project exists; a member whose role is too low gets 403.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import permissions

from webapp.projects.models import Action, Project, role_allows


def project_for(user: Any, project_id: object, action: str = Action.VIEW) -> Project:
    """The project ``project_id`` if ``user`` may do ``action`` there.

    Raises Http404 for non-members (and unknown or malformed ids) and PermissionDenied
    for members whose role does not allow ``action``.
    """
    # One query: the project with the user's role beside it (None for non-members).
    try:
        pk = int(str(project_id))
        project = Project.objects.with_role_of(user).get(pk=pk) if user.is_authenticated else None
    except (Project.DoesNotExist, ValueError, TypeError):
        project = None
    role = getattr(project, "user_role", None)
    if project is None or role is None:
        raise Http404("No such project.")
    project.known_role = (user.pk, role)
    if not role_allows(role, action):
        raise PermissionDenied(f"Your role in this project does not allow: {action}.")
    return project


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
