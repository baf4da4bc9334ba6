"""Inviting people by e-mail: a manager invites an address no account uses, the
invitation link lets its recipient choose a username and password, and they land in
the project with the invited role. Links work once and not after they expire."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from tests.webapp.conftest import ApiClientFor, MakeProject, MakeUser, UserIn
from webapp.projects.models import Invitation, Membership

NEW_PASSWORD = "a brand new long password 7"


def invite(client: Any, project: Any, person: str, role: str = "annotator") -> Any:
    return client.post(
        f"/api/projects/{project.pk}/members/", {"user": person, "role": role}, format="json"
    )


def link_in(message: Any) -> str:
    match = re.search(r"http://testserver(/accounts/invitations/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def sign_up(client: Client, link: str, username: str = "bea") -> Any:
    return client.post(
        link, {"username": username, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )


def test_an_invitation_by_email_ends_with_a_member_in_the_invited_role(
    api_client: ApiClientFor, make_project: MakeProject, user_in: UserIn, client: Client
) -> None:
    project = make_project(name="Cells")
    manager = user_in(project, "manager")

    response = invite(api_client(manager), project, "bea@example.org", role="reviewer")

    assert response.status_code == 202
    assert response.json()["email"] == "bea@example.org"
    assert response.json()["role"] == "reviewer"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["bea@example.org"]
    assert "Cells" in message.subject
    assert manager.get_username() in message.body
    link = link_in(message)
    # Only the token's hash is stored: the link itself is nowhere in the database.
    token = link.rstrip("/").rsplit("/", 1)[-1]
    assert not Invitation.objects.filter(token_hash=token).exists()

    page = client.get(link)
    assert page.status_code == 200
    assert "bea@example.org" in page.content.decode()
    response = sign_up(client, link)

    assert response.status_code == 302
    assert response["Location"] == f"/projects/{project.pk}/"
    bea = get_user_model().objects.get(username="bea")
    assert bea.email == "bea@example.org"
    assert bea.check_password(NEW_PASSWORD)
    assert project.role_of(bea) == "reviewer"
    landing = client.get(response["Location"])
    assert landing.status_code == 200
    assert "Welcome to Cells" in landing.content.decode()
    invitation = Invitation.objects.get()
    assert invitation.accepted_by == bea and invitation.accepted_at is not None


def test_a_used_link_is_refused(
    api_client: ApiClientFor, make_project: MakeProject, user_in: UserIn, client: Client
) -> None:
    project = make_project()
    invite(api_client(user_in(project, "manager")), project, "bea@example.org")
    link = link_in(mail.outbox[0])
    sign_up(client, link)
    other = Client()

    assert other.get(link).status_code == 410
    response = sign_up(other, link, username="mallory")

    assert response.status_code == 410
    assert "already been used" in response.content.decode()
    assert not get_user_model().objects.filter(username="mallory").exists()


def test_an_expired_link_is_refused_and_creates_no_account(
    api_client: ApiClientFor, make_project: MakeProject, user_in: UserIn, client: Client
) -> None:
    project = make_project()
    invite(api_client(user_in(project, "manager")), project, "bea@example.org")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    link = link_in(mail.outbox[0])

    response = sign_up(client, link)

    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert not get_user_model().objects.filter(username="bea").exists()
    assert project.memberships.count() == 2


@pytest.mark.django_db
def test_an_unknown_token_is_404(client: Client) -> None:
    assert client.get("/accounts/invitations/not-a-token/").status_code == 404


def test_a_new_invitation_to_the_same_address_replaces_the_open_one(
    api_client: ApiClientFor, make_project: MakeProject, user_in: UserIn, client: Client
) -> None:
    project = make_project()
    manager = api_client(user_in(project, "manager"))
    invite(manager, project, "bea@example.org")
    invite(manager, project, "bea@example.org", role="viewer")
    first, second = (link_in(m) for m in mail.outbox)

    assert client.get(first).status_code == 404
    sign_up(client, second)

    assert project.role_of(get_user_model().objects.get(username="bea")) == "viewer"


def test_a_signed_in_person_joins_with_their_own_account(
    api_client: ApiClientFor,
    make_project: MakeProject,
    user_in: UserIn,
    make_user: MakeUser,
    client: Client,
) -> None:
    project = make_project()
    invite(api_client(user_in(project, "manager")), project, "bea.other@example.org")
    bea = make_user(username="bea")
    client.force_login(bea)
    link = link_in(mail.outbox[0])

    page = client.get(link).content.decode()
    response = client.post(link)

    assert "Join as bea" in page
    assert response.status_code == 302
    assert project.role_of(bea) == "annotator"
    assert get_user_model().objects.count() == 3


def test_a_bad_sign_up_form_shows_its_errors_and_keeps_the_invitation(
    api_client: ApiClientFor, make_project: MakeProject, user_in: UserIn, client: Client
) -> None:
    project = make_project()
    invite(api_client(user_in(project, "manager")), project, "bea@example.org")
    link = link_in(mail.outbox[0])

    response = client.post(link, {"username": "bea", "password1": "x", "password2": "y"})

    assert response.status_code == 200
    assert "didn’t match" in response.content.decode()
    assert Invitation.objects.open().count() == 1


def test_an_existing_accounts_address_is_invited_and_joins_with_that_account(
    api_client: ApiClientFor, make_project: MakeProject, user_in: UserIn, make_user: MakeUser
) -> None:
    project = make_project()
    bea = make_user(username="bea", email="Bea@Example.org")

    response = invite(api_client(user_in(project, "manager")), project, "bea@example.org")

    # The same answer as for an address no account uses: nothing tells the manager that
    # this address has an account here.
    assert response.status_code == 202
    assert "username" not in response.json()
    assert project.role_of(bea) is None
    link = link_in(mail.outbox[0])
    browser = Client()
    browser.force_login(bea)
    joined = browser.post(link)
    assert joined.status_code == 302
    assert project.role_of(bea) == "annotator"


def test_an_unknown_username_gets_a_hint_to_invite_by_email(
    api_client: ApiClientFor, make_project: MakeProject, user_in: UserIn
) -> None:
    project = make_project()

    response = invite(api_client(user_in(project, "manager")), project, "bob")

    assert response.status_code == 400
    assert response.json() == {
        "user": ["No one named 'bob' shares a project with you. Invite them by e-mail instead."]
    }
    assert not Invitation.objects.exists()


def test_a_malformed_address_is_refused(
    api_client: ApiClientFor, make_project: MakeProject, user_in: UserIn
) -> None:
    project = make_project()

    response = invite(api_client(user_in(project, "manager")), project, "bob@")

    assert response.status_code == 400
    assert "not a valid e-mail address" in response.json()["user"][0]


@pytest.mark.parametrize(
    ("role", "status"), [("viewer", 403), ("annotator", 403), ("reviewer", 403), ("outsider", 404)]
)
def test_only_managers_invite(
    role: str, status: int, api_client: ApiClientFor, make_project: MakeProject, user_in: UserIn
) -> None:
    project = make_project()

    response = invite(api_client(user_in(project, role)), project, "bea@example.org")

    assert response.status_code == status
    assert mail.outbox == []
    assert not Invitation.objects.exists()


def test_only_an_owner_invites_an_owner(
    api_client: ApiClientFor, make_project: MakeProject, user_in: UserIn
) -> None:
    project = make_project()

    as_manager = invite(api_client(user_in(project, "manager")), project, "a@example.org", "owner")
    as_owner = invite(api_client(user_in(project, "owner")), project, "b@example.org", "owner")

    assert as_manager.status_code == 403
    assert as_owner.status_code == 202
    assert [m.to for m in mail.outbox] == [["b@example.org"]]


def test_a_mail_server_that_fails_keeps_no_invitation(
    api_client: ApiClientFor, make_project: MakeProject, user_in: UserIn, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    project = make_project()

    response = invite(api_client(user_in(project, "manager")), project, "bea@example.org")

    assert response.status_code == 503
    assert "could not be sent" in response.json()["detail"]
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    ("role", "status"), [("manager", 200), ("owner", 200), ("reviewer", 403), ("outsider", 404)]
)
def test_managers_list_and_withdraw_open_invitations(
    role: str,
    status: int,
    api_client: ApiClientFor,
    make_project: MakeProject,
    user_in: UserIn,
    client: Client,
) -> None:
    project = make_project()
    invite(api_client(user_in(project, "owner")), project, "bea@example.org")
    invitation = Invitation.objects.get()
    requester = api_client(user_in(project, role))

    listed = requester.get(f"/api/projects/{project.pk}/invitations/")
    withdrawn = requester.delete(f"/api/projects/{project.pk}/invitations/{invitation.pk}/")

    assert listed.status_code == status
    if status == 200:
        assert [i["email"] for i in listed.json()["results"]] == ["bea@example.org"]
        assert withdrawn.status_code == 204
        assert client.get(link_in(mail.outbox[0])).status_code == 404
    else:
        assert withdrawn.status_code == status
        assert Invitation.objects.exists()


def test_the_project_page_lists_open_invitations_for_managers_only(
    api_client: ApiClientFor, make_project: MakeProject, user_in: UserIn, client: Client
) -> None:
    project = make_project()
    invite(api_client(user_in(project, "owner")), project, "bea@example.org")

    client.force_login(user_in(project, "manager"))
    as_manager = client.get(f"/projects/{project.pk}/").content.decode()
    client.force_login(user_in(project, "annotator"))
    as_annotator = client.get(f"/projects/{project.pk}/").content.decode()

    assert "bea@example.org" in as_manager
    assert "bea@example.org" not in as_annotator


def test_an_accepted_invitation_keeps_an_existing_members_role(
    api_client: ApiClientFor, make_project: MakeProject, user_in: UserIn, client: Client
) -> None:
    project = make_project()
    invite(api_client(user_in(project, "owner")), project, "x@example.org", role="viewer")
    manager = user_in(project, "manager")
    client.force_login(manager)

    client.post(link_in(mail.outbox[0]))

    assert Membership.objects.get(project=project, user=manager).role == "manager"


def test_an_unknown_email_backend_stops_start_up_naming_the_variable(run_manage: Any) -> None:
    result = run_manage("check", EMAIL_BACKEND="pigeon")

    assert result.returncode != 0
    assert "EMAIL_BACKEND='pigeon'" in result.stderr


def test_the_email_backend_is_the_console_by_default(run_manage: Any) -> None:
    result = run_manage(
        "shell", "-c", "from django.conf import settings; print(settings.EMAIL_BACKEND)"
    )

    assert result.stdout.strip().endswith("django.core.mail.backends.console.EmailBackend")
