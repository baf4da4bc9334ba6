"""Password guessing is slowed down: after a few failed sign-ins an account, or the
address they came from, is refused for a while, on the sign-in page, the admin's and
the API token endpoint alike, even with the right password. Others are unaffected."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.models import F
from django.test import Client
from rest_framework.test import APIClient

from tests.webapp.conftest import DEFAULT_PASSWORD, MakeUser
from webapp.accounts.models import FailedSignIn

LOCKED = "Too many failed sign-ins for this account or from this address"


@pytest.fixture(autouse=True)
def limits(settings: Any) -> None:
    settings.SAMLABEL_SIGNIN_FAILURES_PER_ACCOUNT = 5
    settings.SAMLABEL_SIGNIN_FAILURES_PER_ADDRESS = 8
    settings.SAMLABEL_SIGNIN_LOCKOUT_SECONDS = 900


def sign_in(username: str, password: str, address: str = "10.0.0.1") -> Any:
    return Client(REMOTE_ADDR=address).post(
        "/accounts/login/", {"username": username, "password": password}
    )


def ask_token(username: str, password: str, address: str = "10.0.0.1") -> Any:
    return APIClient(REMOTE_ADDR=address).post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )


def let_time_pass(seconds: int) -> None:
    FailedSignIn.objects.update(at=F("at") - timedelta(seconds=seconds))


def test_after_five_wrong_passwords_the_page_refuses_even_the_right_one_for_a_while(
    make_user: MakeUser,
) -> None:
    make_user(username="ann")
    for _ in range(4):
        page = sign_in("ann", "wrong")
        assert page.status_code == 200
        assert "do not match an account" in page.content.decode()
    assert sign_in("ann", "wrong").status_code == 200

    refused = sign_in("ann", DEFAULT_PASSWORD)

    assert refused.status_code == 200
    assert LOCKED in refused.content.decode()
    assert "Try again in 15 minutes." in refused.content.decode()
    assert "_auth_user_id" not in refused.wsgi_request.session

    let_time_pass(14 * 60)
    assert LOCKED in sign_in("ann", DEFAULT_PASSWORD).content.decode()
    let_time_pass(61)
    accepted = sign_in("ann", DEFAULT_PASSWORD)
    assert accepted.status_code == 302
    assert accepted["Location"] == "/projects/"


def test_the_account_lock_holds_from_every_address_and_spares_other_accounts(
    make_user: MakeUser,
) -> None:
    make_user(username="ann")
    make_user(username="bob")
    for _ in range(5):
        sign_in("ann", "wrong", address="10.0.0.1")

    assert LOCKED in sign_in("ann", DEFAULT_PASSWORD, address="10.9.9.9").content.decode()
    assert sign_in("bob", DEFAULT_PASSWORD, address="10.0.0.1").status_code == 302


def test_guessing_across_accounts_locks_the_address_not_the_accounts(
    make_user: MakeUser,
) -> None:
    make_user(username="ann")
    for n in range(8):
        sign_in(f"someone{n}", "guess", address="10.0.0.66")

    assert LOCKED in sign_in("ann", DEFAULT_PASSWORD, address="10.0.0.66").content.decode()
    assert sign_in("ann", DEFAULT_PASSWORD, address="10.0.0.1").status_code == 302


def test_a_good_sign_in_clears_the_accounts_earlier_failures(make_user: MakeUser) -> None:
    make_user(username="ann")
    for _ in range(4):
        sign_in("ann", "wrong")
    assert sign_in("ann", DEFAULT_PASSWORD).status_code == 302

    for _ in range(4):
        sign_in("ann", "wrong", address="10.0.0.2")
    assert sign_in("ann", DEFAULT_PASSWORD, address="10.0.0.2").status_code == 302


def test_the_token_endpoint_answers_429_once_the_account_is_locked(make_user: MakeUser) -> None:
    make_user(username="ann")
    make_user(username="bob")
    for _ in range(5):
        assert ask_token("ann", "wrong").status_code == 400

    refused = ask_token("ann", DEFAULT_PASSWORD)

    assert refused.status_code == 429
    assert LOCKED in refused.json()["detail"]
    assert 890 <= int(refused["Retry-After"]) <= 900
    assert "token" not in refused.json()
    assert ask_token("bob", DEFAULT_PASSWORD).status_code == 200
    # The page and the API count together: the page is locked too.
    assert LOCKED in sign_in("ann", DEFAULT_PASSWORD).content.decode()
    let_time_pass(900)
    assert ask_token("ann", DEFAULT_PASSWORD).status_code == 200


def test_the_admin_sign_in_counts_and_is_refused_too(make_user: MakeUser) -> None:
    make_user(username="root", is_staff=True, is_superuser=True)
    admin = Client(REMOTE_ADDR="10.0.0.1")
    for _ in range(5):
        admin.post("/admin/login/", {"username": "root", "password": "wrong"})

    response = admin.post("/admin/login/", {"username": "root", "password": DEFAULT_PASSWORD})

    assert response.status_code == 200  # the form again, not the admin
    assert "_auth_user_id" not in admin.session


def test_behind_a_proxy_the_forwarded_address_is_the_one_counted(
    make_user: MakeUser, settings: Any
) -> None:
    settings.SAMLABEL_TRUSTED_PROXIES = 1
    make_user(username="ann")
    for n in range(8):
        Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7").post(
            "/accounts/login/", {"username": f"someone{n}", "password": "guess"}
        )

    # The proxy (10.0.0.1) is not locked, the client behind it (203.0.113.7) is; the
    # left-most entry is the client's own claim and is not believed.
    via_proxy = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert (
        via_proxy.post(
            "/accounts/login/", {"username": "ann", "password": DEFAULT_PASSWORD}
        ).status_code
        == 302
    )
    guesser = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.7")
    response = guesser.post("/accounts/login/", {"username": "ann", "password": DEFAULT_PASSWORD})
    assert LOCKED in response.content.decode()
