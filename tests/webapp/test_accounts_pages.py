from __future__ import annotations

from django.test import Client

from tests.webapp.conftest import DEFAULT_PASSWORD, MakeUser


def test_sign_in_page_renders_a_form(client: Client) -> None:
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="username"' in page
    assert 'name="password"' in page


def test_signing_in_leads_to_the_project_list(client: Client, make_user: MakeUser) -> None:
    make_user(username="ann")

    response = client.post("/accounts/login/", {"username": "ann", "password": DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/projects/"
    assert client.get("/projects/").status_code == 200


def test_signing_in_honours_next(client: Client, make_user: MakeUser) -> None:
    make_user(username="ann")

    response = client.post(
        "/accounts/login/?next=/projects/7/",
        {"username": "ann", "password": DEFAULT_PASSWORD, "next": "/projects/7/"},
    )

    assert response["Location"] == "/projects/7/"


def test_wrong_password_is_refused_with_a_message(client: Client, make_user: MakeUser) -> None:
    make_user(username="ann")

    response = client.post("/accounts/login/", {"username": "ann", "password": "wrong"})

    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_signing_out_takes_a_post_and_ends_the_session(client: Client, make_user: MakeUser) -> None:
    client.force_login(make_user())

    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.get("/projects/").status_code == 302


def test_pages_show_the_user_name_and_a_sign_out_button(
    client: Client, make_user: MakeUser
) -> None:
    client.force_login(make_user(username="ann"))

    page = client.get("/projects/").content.decode()

    assert "ann" in page
    assert 'action="/accounts/logout/"' in page
    assert "Sign out" in page


def test_home_sends_signed_in_users_to_their_projects(client: Client, make_user: MakeUser) -> None:
    client.force_login(make_user())

    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/projects/"


def test_home_offers_anonymous_visitors_a_sign_in_link(client: Client) -> None:
    page = client.get("/").content.decode()

    assert 'href="/accounts/login/"' in page
