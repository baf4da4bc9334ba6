"""API tokens expire, and their owner can revoke theirs from a script or from the
password page; a refused token answers 401 and says why."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.webapp.conftest import DEFAULT_PASSWORD, MakeUser

DAY = 24 * 3600


def token_for(username: str) -> str:
    response = APIClient().post(
        "/api/auth/token/", {"username": username, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 200
    return str(response.json()["token"])


def projects_with(token: str) -> Any:
    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return script.get("/api/projects/")


def age_tokens(seconds: int) -> None:
    Token.objects.update(created=timezone.now() - timedelta(seconds=seconds))


def test_a_token_says_when_it_expires(make_user: MakeUser, settings: Any) -> None:
    settings.SAMLABEL_TOKEN_TTL_SECONDS = 30 * DAY
    make_user(username="ann")

    response = APIClient().post(
        "/api/auth/token/", {"username": "ann", "password": DEFAULT_PASSWORD}, format="json"
    )

    expires = response.json()["expires_at"]
    created = Token.objects.get().created
    assert expires.startswith((created + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"))


def test_an_expired_token_is_refused_and_a_new_one_is_given(
    make_user: MakeUser, settings: Any
) -> None:
    settings.SAMLABEL_TOKEN_TTL_SECONDS = 30 * DAY
    make_user(username="ann")
    old = token_for("ann")
    age_tokens(29 * DAY)
    assert projects_with(old).status_code == 200

    age_tokens(30 * DAY + 1)
    refused = projects_with(old)

    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == "Token"
    assert "This token expired at" in refused.json()["detail"]
    assert "POST /api/auth/token/" in refused.json()["detail"]
    new = token_for("ann")
    assert new != old
    assert projects_with(new).status_code == 200
    assert projects_with(old).status_code == 401


def test_a_script_revokes_its_own_token(make_user: MakeUser) -> None:
    make_user(username="ann")
    make_user(username="bob")
    token = token_for("ann")
    bobs = token_for("bob")
    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert script.delete("/api/auth/token/").status_code == 204

    assert projects_with(token).status_code == 401
    assert projects_with(bobs).status_code == 200
    assert token_for("ann") != token


def test_revoking_needs_a_sign_in(make_user: MakeUser) -> None:
    make_user(username="ann")
    token_for("ann")

    response = APIClient().delete("/api/auth/token/")

    assert response.status_code in (401, 403)
    assert Token.objects.count() == 1


def test_the_password_page_shows_the_token_and_revokes_it(make_user: MakeUser) -> None:
    ann = make_user(username="ann")
    browser = Client()
    browser.force_login(ann)
    assert "You have no API token" in browser.get("/accounts/password/").content.decode()
    token = token_for("ann")

    page = browser.get("/accounts/password/").content.decode()
    assert "works until" in page
    assert "Revoke my API token" in page
    response = browser.post("/accounts/token/revoke/", follow=True)

    assert response.redirect_chain[-1][0] == "/accounts/password/"
    assert "Your API token is revoked" in response.content.decode()
    assert not Token.objects.exists()
    assert projects_with(token).status_code == 401


def test_revoking_from_the_page_needs_a_post(make_user: MakeUser) -> None:
    ann = make_user(username="ann")
    token_for("ann")
    browser = Client()
    browser.force_login(ann)

    assert browser.get("/accounts/token/revoke/").status_code == 405
    assert Token.objects.exists()
