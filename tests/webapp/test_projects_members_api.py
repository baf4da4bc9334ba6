from __future__ import annotations

import pytest

from tests.webapp.conftest import AddMember, ApiClientFor, MakeProject, MakeUser, UserIn
from webapp.projects.models import Membership


def members_url(project_pk: int, member_pk: int | None = None) -> str:
    base = f"/api/projects/{project_pk}/members/"
    return base if member_pk is None else f"{base}{member_pk}/"


@pytest.mark.parametrize("role", ["viewer", "annotator", "reviewer", "manager", "owner"])
def test_every_member_sees_who_else_is_in_the_project(
    role: str,
    make_project: MakeProject,
    make_user: MakeUser,
    user_in: UserIn,
    api_client: ApiClientFor,
) -> None:
    project = make_project(owner=make_user(username="olga"))

    response = api_client(user_in(project, role)).get(members_url(project.pk))

    assert response.status_code == 200
    rows = response.json()["results"]
    assert {"username": "olga", "role": "owner"}.items() <= rows[0].items()
    assert len(rows) == (1 if role == "owner" else 2)


def test_an_outsider_gets_404_for_members(
    make_project: MakeProject, user_in: UserIn, api_client: ApiClientFor
) -> None:
    project = make_project()
    owner_membership = project.memberships.get()
    outsider = user_in(project, "outsider")
    client = api_client(outsider)

    assert client.get(members_url(project.pk)).status_code == 404
    assert (
        client.post(members_url(project.pk), {"user": outsider.get_username()}).status_code == 404
    )
    assert client.delete(members_url(project.pk, owner_membership.pk)).status_code == 404
    assert project.memberships.count() == 1


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", 403), ("annotator", 403), ("reviewer", 403), ("manager", 201), ("owner", 201)],
)
def test_managers_add_members_by_username(
    role: str,
    expected: int,
    make_project: MakeProject,
    make_user: MakeUser,
    user_in: UserIn,
    api_client: ApiClientFor,
) -> None:
    project = make_project()
    requester = user_in(project, role)
    # Someone the requester knows from another project of theirs.
    make_project(owner=requester).memberships.create(
        user=make_user(username="newcomer"), role="viewer"
    )

    response = api_client(requester).post(
        members_url(project.pk), {"user": "newcomer", "role": "reviewer"}, format="json"
    )

    assert response.status_code == expected
    added = project.memberships.filter(user__username="newcomer")
    if expected == 201:
        assert response.json()["role"] == "reviewer"
        assert added.get().role == "reviewer"
    else:
        assert not added.exists()


def test_an_address_always_gets_an_invitation_whether_or_not_an_account_uses_it(
    make_project: MakeProject, make_user: MakeUser, api_client: ApiClientFor
) -> None:
    owner = make_user()
    project = make_project(owner=owner)
    bea = make_user(username="bea", email="Bea@Example.org")
    client = api_client(owner)

    known = client.post(members_url(project.pk), {"user": "bea@example.org"}, format="json")
    unknown = client.post(members_url(project.pk), {"user": "bob@example.org"}, format="json")

    assert known.status_code == unknown.status_code == 202
    assert known.json().keys() == unknown.json().keys()
    assert known.json()["email"] == "bea@example.org"
    assert project.role_of(bea) is None  # until bea accepts with her account


@pytest.mark.parametrize("who", ["stranger", "nobody"])
def test_a_username_outside_ones_projects_gets_the_same_answer_as_one_that_does_not_exist(
    who: str, make_project: MakeProject, make_user: MakeUser, api_client: ApiClientFor
) -> None:
    owner = make_user()
    project = make_project(owner=owner)
    make_project().memberships.create(user=make_user(username="stranger"), role="viewer")

    response = api_client(owner).post(members_url(project.pk), {"user": who}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "user": [f"No one named {who!r} shares a project with you. Invite them by e-mail instead."]
    }
    assert project.memberships.count() == 1


def test_staff_add_any_account_by_username(
    make_project: MakeProject, make_user: MakeUser, api_client: ApiClientFor
) -> None:
    admin = make_user(is_staff=True)
    project = make_project(owner=admin)
    stranger = make_user(username="stranger")

    response = api_client(admin).post(members_url(project.pk), {"user": "stranger"}, format="json")

    assert response.status_code == 201
    assert project.role_of(stranger) == "annotator"


def test_adding_someone_twice_says_so(
    make_project: MakeProject,
    make_user: MakeUser,
    add_member: AddMember,
    api_client: ApiClientFor,
) -> None:
    owner = make_user()
    project = make_project(owner=owner)
    add_member(project, make_user(username="bea"), "viewer")

    response = api_client(owner).post(
        members_url(project.pk), {"user": "bea", "role": "manager"}, format="json"
    )

    assert response.status_code == 400
    assert "already a member" in response.json()["detail"]
    assert project.memberships.get(user__username="bea").role == "viewer"


def test_an_unknown_role_is_refused(
    make_project: MakeProject, make_user: MakeUser, api_client: ApiClientFor
) -> None:
    owner = make_user()
    project = make_project(owner=owner)
    make_user(username="bea")

    response = api_client(owner).post(
        members_url(project.pk), {"user": "bea", "role": "emperor"}, format="json"
    )

    assert response.status_code == 400
    assert "role" in response.json()
    assert project.memberships.count() == 1


def test_a_manager_cannot_grant_the_owner_role(
    make_project: MakeProject, make_user: MakeUser, user_in: UserIn, api_client: ApiClientFor
) -> None:
    project = make_project()
    manager = user_in(project, "manager")
    bea = make_user(username="bea")
    make_project(owner=manager).memberships.create(user=bea, role="viewer")
    client = api_client(manager)

    added = client.post(members_url(project.pk), {"user": "bea", "role": "owner"}, format="json")
    promoted_self = client.patch(
        members_url(project.pk, project.memberships.get(user=manager).pk),
        {"role": "owner"},
        format="json",
    )

    assert added.status_code == 403
    assert "Only an owner" in added.json()["detail"]
    assert promoted_self.status_code == 403
    assert project.role_of(bea) is None
    assert project.role_of(manager) == "manager"


def test_a_manager_cannot_demote_or_remove_an_owner(
    make_project: MakeProject, user_in: UserIn, api_client: ApiClientFor
) -> None:
    project = make_project()
    second_owner = user_in(project, "owner")
    owner_row = project.memberships.get(user=second_owner)
    client = api_client(user_in(project, "manager"))

    demoted = client.patch(members_url(project.pk, owner_row.pk), {"role": "viewer"}, format="json")
    removed = client.delete(members_url(project.pk, owner_row.pk))

    assert (demoted.status_code, removed.status_code) == (403, 403)
    owner_row.refresh_from_db()
    assert owner_row.role == "owner"


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", 403), ("annotator", 403), ("reviewer", 403), ("manager", 200), ("owner", 200)],
)
def test_managers_change_roles(
    role: str,
    expected: int,
    make_project: MakeProject,
    make_user: MakeUser,
    add_member: AddMember,
    user_in: UserIn,
    api_client: ApiClientFor,
) -> None:
    project = make_project()
    target = add_member(project, make_user(), "viewer")

    response = api_client(user_in(project, role)).patch(
        members_url(project.pk, target.pk), {"role": "annotator"}, format="json"
    )

    assert response.status_code == expected
    target.refresh_from_db()
    assert target.role == ("annotator" if expected == 200 else "viewer")


def test_an_owner_makes_another_owner_and_may_then_step_down(
    make_project: MakeProject,
    make_user: MakeUser,
    add_member: AddMember,
    api_client: ApiClientFor,
) -> None:
    olga = make_user()
    project = make_project(owner=olga)
    bea = add_member(project, make_user(), "manager")
    client = api_client(olga)

    promoted = client.patch(members_url(project.pk, bea.pk), {"role": "owner"}, format="json")
    stepped_down = client.patch(
        members_url(project.pk, project.memberships.get(user=olga).pk),
        {"role": "manager"},
        format="json",
    )

    assert (promoted.status_code, stepped_down.status_code) == (200, 200)
    assert project.role_of(olga) == "manager"
    assert project.role_of(bea.user) == "owner"


def test_the_last_owner_cannot_be_demoted(
    make_project: MakeProject, make_user: MakeUser, api_client: ApiClientFor
) -> None:
    olga = make_user(username="olga")
    project = make_project(owner=olga)
    row = project.memberships.get()

    response = api_client(olga).patch(
        members_url(project.pk, row.pk), {"role": "viewer"}, format="json"
    )

    assert response.status_code == 400
    assert "last owner" in response.json()["detail"]
    row.refresh_from_db()
    assert row.role == "owner"


def test_the_last_owner_cannot_be_removed_or_leave(
    make_project: MakeProject, make_user: MakeUser, api_client: ApiClientFor
) -> None:
    olga = make_user()
    project = make_project(owner=olga)

    response = api_client(olga).delete(members_url(project.pk, project.memberships.get().pk))

    assert response.status_code == 400
    assert "last owner" in response.json()["detail"]
    assert project.role_of(olga) == "owner"


def test_a_role_change_needs_a_role(
    make_project: MakeProject,
    make_user: MakeUser,
    add_member: AddMember,
    api_client: ApiClientFor,
) -> None:
    olga = make_user()
    project = make_project(owner=olga)
    row = add_member(project, make_user(), "viewer")

    response = api_client(olga).patch(members_url(project.pk, row.pk), {}, format="json")

    assert response.status_code == 400
    assert "role" in response.json()


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", 403), ("annotator", 403), ("reviewer", 403), ("manager", 204), ("owner", 204)],
)
def test_managers_remove_members(
    role: str,
    expected: int,
    make_project: MakeProject,
    make_user: MakeUser,
    add_member: AddMember,
    user_in: UserIn,
    api_client: ApiClientFor,
) -> None:
    project = make_project()
    target = add_member(project, make_user(), "annotator")

    response = api_client(user_in(project, role)).delete(members_url(project.pk, target.pk))

    assert response.status_code == expected
    assert Membership.objects.filter(pk=target.pk).exists() == (expected != 204)


@pytest.mark.parametrize("role", ["viewer", "annotator", "reviewer", "manager"])
def test_any_member_may_leave(
    role: str, make_project: MakeProject, user_in: UserIn, api_client: ApiClientFor
) -> None:
    project = make_project()
    member = user_in(project, role)

    response = api_client(member).delete(
        members_url(project.pk, project.memberships.get(user=member).pk)
    )

    assert response.status_code == 204
    assert project.role_of(member) is None


def test_another_projects_member_ids_are_404(
    make_project: MakeProject,
    make_user: MakeUser,
    add_member: AddMember,
    api_client: ApiClientFor,
) -> None:
    olga = make_user()
    mine = make_project(owner=olga)
    theirs = make_project()
    their_member = add_member(theirs, make_user(), "viewer")
    client = api_client(olga)

    assert client.get(members_url(mine.pk, their_member.pk)).status_code == 404
    patched = client.patch(
        members_url(mine.pk, their_member.pk), {"role": "manager"}, format="json"
    )
    deleted = client.delete(members_url(mine.pk, their_member.pk))

    assert (patched.status_code, deleted.status_code) == (404, 404)
    their_member.refresh_from_db()
    assert their_member.role == "viewer"


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
def test_only_managers_and_owners_see_members_email_addresses(
    role: str,
    sees_emails: bool,
    make_project: MakeProject,
    make_user: MakeUser,
    user_in: UserIn,
    add_member: AddMember,
    api_client: ApiClientFor,
) -> None:
    project = make_project(owner=make_user(username="olga", email="olga@example.org"))
    add_member(project, make_user(username="pat", email="pat@example.org"), "viewer")
    requester = user_in(project, role)
    client = api_client(requester)

    rows = client.get(members_url(project.pk)).json()["results"]

    emails = {row["username"]: row["email"] for row in rows}
    assert emails.pop(requester.get_username()) == requester.email  # one's own, always
    if sees_emails:
        assert all(emails.values()) and emails
    else:
        assert set(emails.values()) == {None}
    pat = project.memberships.get(user__username="pat")
    assert (client.get(members_url(project.pk, pat.pk)).json()["email"] is not None) == sees_emails
