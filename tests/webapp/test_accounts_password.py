"""Everyone changes their own password on a page of ours."""

from __future__ import annotations

from django.test import Client

from tests.webapp.conftest import DEFAULT_PASSWORD, MakeUser

NEW = "another long password 99"


def test_a_member_changes_their_password_and_stays_signed_in(
    client: Client, make_user: MakeUser
) -> None:
    ann = make_user(username="ann")
    client.force_login(ann)

    form = client.get("/accounts/password/")
    response = client.post(
        "/accounts/password/",
        {"old_password": DEFAULT_PASSWORD, "new_password1": NEW, "new_password2": NEW},
    )

    assert form.status_code == 200 and 'name="old_password"' in form.content.decode()
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/done/"
    assert "Password changed" in client.get(response["Location"]).content.decode()
    assert client.get("/projects/").status_code == 200
    ann.refresh_from_db()
    assert ann.check_password(NEW)
    assert Client().login(username="ann", password=NEW)


def test_a_wrong_current_password_changes_nothing(client: Client, make_user: MakeUser) -> None:
    ann = make_user(username="ann")
    client.force_login(ann)

    response = client.post(
        "/accounts/password/", {"old_password": "wrong", "new_password1": NEW, "new_password2": NEW}
    )

    assert response.status_code == 200
    assert "incorrectly" in response.content.decode()
    ann.refresh_from_db()
    assert ann.check_password(DEFAULT_PASSWORD)


def test_a_weak_new_password_is_refused_with_the_reason(
    client: Client, make_user: MakeUser
) -> None:
    client.force_login(make_user())

    response = client.post(
        "/accounts/password/",
        {"old_password": DEFAULT_PASSWORD, "new_password1": "12345", "new_password2": "12345"},
    )

    assert response.status_code == 200
    assert "too short" in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get("/accounts/password/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
