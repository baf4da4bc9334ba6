"""A kept PostgreSQL connection is checked before reuse without a round trip
(webapp/core/postgresql/base.py): an idle connection with nothing on its socket is
reused as is; one the server ended is noticed and replaced before the request uses it."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from django.db import connection

from tests.webapp.conftest import RunManage

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the check is PostgreSQL's backend"
)


def as_between_requests() -> None:
    """The state Django leaves a kept connection in at the end of a request."""
    connection.close_if_unusable_or_obsolete()
    assert connection.connection is not None


def round_trips_of(call: Any, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many cursors ``call`` opens directly on the psycopg connection (Django's own
    SELECT 1 opens one)."""
    opened = []
    real = connection.connection.cursor
    monkeypatch.setattr(
        connection.connection, "cursor", lambda *a, **k: opened.append(1) or real(*a, **k)
    )
    call()
    monkeypatch.undo()
    return len(opened)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_an_idle_connection_is_reused_without_a_query(monkeypatch: pytest.MonkeyPatch) -> None:
    connection.ensure_connection()
    as_between_requests()

    assert round_trips_of(connection.close_if_health_check_failed, monkeypatch) == 0
    assert connection.connection is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_replaced_before_use() -> None:
    connection.ensure_connection()
    as_between_requests()
    ended = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [ended])
    time.sleep(0.2)  # the server's notice and the end of the connection arrive

    connection.close_if_health_check_failed()

    assert connection.connection is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    assert pid != ended


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_after_an_error_django_asks_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    connection.ensure_connection()
    connection.errors_occurred = True

    assert round_trips_of(connection.close_if_unusable_or_obsolete, monkeypatch) == 1
    assert connection.connection is not None


def test_the_quiet_check_is_on_for_postgresql_by_default_and_can_be_turned_off(
    run_manage: RunManage,
) -> None:
    show = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    postgres = "postgres://postgres@127.0.0.1:5432/unused"

    quiet = run_manage("shell", "--no-imports", "-c", show, DATABASE_URL=postgres)
    plain = run_manage(
        "shell", "--no-imports", "-c", show, DATABASE_URL=postgres,
        SAMLABEL_DB_QUIET_HEALTH_CHECK="0",
    )  # fmt: skip
    sqlite = run_manage("shell", "--no-imports", "-c", show, DATABASE_URL="sqlite:///:memory:")

    assert quiet.stdout.split() == ["webapp.core.postgresql"], quiet.stderr
    assert plain.stdout.split() == ["django.db.backends.postgresql"], plain.stderr
    assert sqlite.stdout.split() == ["django.db.backends.sqlite3"], sqlite.stderr
