"""Who may learn of whom: the accounts a user already knows of through the projects
they share, so that adding a member reveals nothing about any other account."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet


def people_known_to(user: Any) -> QuerySet[Any]:
    """The accounts that share a project with ``user`` (``user`` included); every account
    for staff, who see them all in the admin anyway."""
    accounts = get_user_model().objects.all()
    if user.is_staff:
        return accounts
    return accounts.filter(memberships__project__memberships__user=user).distinct()
