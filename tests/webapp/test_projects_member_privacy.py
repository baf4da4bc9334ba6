"""The project page shows members' e-mail addresses only to those who manage members
(and each member their own), as the members API does."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.webapp.conftest import AddMember, MakeProject, MakeUser, UserIn


@pytest.mark.parametrize(
    ("role", "sees_emails"),
    [
        ("viewer", False),
        ("annotator", False),
        ("reviewer", False),
        ("manager", True),
        ("owner", True),
    ],
)
def test_the_project_page_shows_other_members_addresses_to_managers_only(
    role: str,
    sees_emails: bool,
    client: Client,
    make_project: MakeProject,
    make_user: MakeUser,
    user_in: UserIn,
    add_member: AddMember,
) -> None:
    project = make_project(owner=make_user(username="olga", email="olga@example.org"))
    add_member(project, make_user(username="pat", email="pat@example.org"), "viewer")
    requester = user_in(project, role)
    client.force_login(requester)

    page = client.get(f"/projects/{project.pk}/").content.decode()

    assert "pat" in page
    assert ("pat@example.org" in page) == sees_emails
    assert requester.email in page
