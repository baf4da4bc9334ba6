from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.webapp.conftest import REPO_ROOT, RunManage
from webapp.settings import database_from_url


def test_default_database_is_sqlite_in_var(run_manage: RunManage) -> None:
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.DATABASES['default'])",
    )

    assert result.returncode == 0, result.stderr
    assert "django.db.backends.sqlite3" in result.stdout
    assert str(REPO_ROOT / "var" / "db.sqlite3") in result.stdout


def test_sqlite_url_with_relative_path_is_under_the_repository() -> None:
    database = database_from_url("sqlite:///var/other.sqlite3")

    assert database == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": REPO_ROOT / "var" / "other.sqlite3",
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
        },
    }


def test_sqlite_url_with_four_slashes_is_an_absolute_path() -> None:
    database = database_from_url("sqlite:////srv/samlabel/db.sqlite3")

    assert database["NAME"] == Path("/srv/samlabel/db.sqlite3")


def test_sqlite_url_can_name_an_in_memory_database() -> None:
    assert database_from_url("sqlite:///:memory:")["NAME"] == ":memory:"


def test_postgres_url_gives_every_connection_setting() -> None:
    database = database_from_url(
        "postgres://label%40er:p%3Ass%2Fword@db.example.org:6543/samlabel?sslmode=require"
    )

    assert database == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "samlabel",
        "USER": "label@er",
        "PASSWORD": "p:ss/word",
        "HOST": "db.example.org",
        "PORT": "6543",
        "OPTIONS": {"sslmode": "require"},
    }


def test_postgresql_scheme_without_credentials_or_port_uses_driver_defaults() -> None:
    database = database_from_url("postgresql://localhost/samlabel")

    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["NAME"] == "samlabel"
    assert (database["USER"], database["PASSWORD"], database["PORT"]) == ("", "", "")
    assert database["HOST"] == "localhost"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://root@localhost/samlabel", "scheme 'mysql'"),
        ("var/db.sqlite3", "scheme '(none)'"),
        ("", "scheme '(none)'"),
        ("postgres://user@localhost:fivefourthreetwo/samlabel", "Port"),
        ("postgres://user@localhost:5432", "database name"),
        ("postgres://user@localhost:5432/", "database name"),
        ("sqlite://var/db.sqlite3", "three slashes"),
        ("sqlite:///", "no database file"),
    ],
)
def test_malformed_database_url_is_refused_naming_the_variable(url: str, reason: str) -> None:
    with pytest.raises(ImproperlyConfigured) as raised:
        database_from_url(url)

    message = str(raised.value)
    assert message.startswith(f"DATABASE_URL={url!r} is not a usable database URL")
    assert reason in message


def test_start_up_fails_with_a_malformed_database_url(run_manage: RunManage) -> None:
    result = run_manage("check", DATABASE_URL="postgres//oops")

    assert result.returncode != 0
    assert "ImproperlyConfigured: DATABASE_URL='postgres//oops' is not a usable" in result.stderr


def test_start_up_refuses_the_default_secret_key_without_debug(run_manage: RunManage) -> None:
    result = run_manage("check", DEBUG="0")

    assert result.returncode != 0
    assert "SECRET_KEY is not set and DEBUG is false" in result.stderr


def test_start_up_accepts_a_real_secret_key_without_debug(run_manage: RunManage) -> None:
    result = run_manage("check", DEBUG="false", SECRET_KEY="x" * 50)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_start_up_fails_with_an_unreadable_debug_value(run_manage: RunManage) -> None:
    result = run_manage("check", DEBUG="maybe")

    assert result.returncode != 0
    assert "DEBUG='maybe' is not a yes/no value" in result.stderr


def test_start_up_fails_with_an_unknown_model(run_manage: RunManage) -> None:
    result = run_manage("check", SAMLABEL_MODEL="sam_vit_z")

    assert result.returncode != 0
    assert "SAMLABEL_MODEL: unknown model 'sam_vit_z'" in result.stderr


def test_allowed_hosts_and_storage_folders_come_from_the_environment(
    run_manage: RunManage, tmp_path: Path
) -> None:
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; "
        "print(settings.ALLOWED_HOSTS, settings.MEDIA_ROOT, settings.STATIC_ROOT)",
        ALLOWED_HOSTS="label.example.org, .example.net",
        MEDIA_ROOT=str(tmp_path / "media"),
        STATIC_ROOT=str(tmp_path / "static"),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "['label.example.org',",
        "'.example.net']",
        str(tmp_path / "media"),
        str(tmp_path / "static"),
    ]


def test_the_import_limits_come_from_the_environment(run_manage: RunManage) -> None:
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from webapp.imports import archives, documents; "
        "print(archives.max_import_bytes(), archives.max_import_members(), "
        "documents.max_json_bytes())",
        SAMLABEL_MAX_IMPORT_BYTES="1000000",
        SAMLABEL_MAX_IMPORT_MEMBERS="20",
        SAMLABEL_MAX_IMPORT_JSON_BYTES="4096",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1000000", "20", "4096"]


# A PostgreSQL server to try a real connection against. CI starts one on 127.0.0.1:5432
# that trusts local connections; elsewhere, point this at any server you can reach.
TEST_POSTGRES_URL = os.environ.get(
    "SAMLABEL_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)


def _postgres_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or 5432), 2):
            return True
    except OSError:
        return False


def test_postgres_database_url_connects_to_a_real_server(run_manage: RunManage) -> None:
    if not _postgres_reachable(TEST_POSTGRES_URL):
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide PostgreSQL at {TEST_POSTGRES_URL}")
        pytest.skip(f"no PostgreSQL server at {TEST_POSTGRES_URL}")

    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.db import connection; "
        "connection.ensure_connection(); "
        "print(connection.vendor, connection.pg_version)",
        DATABASE_URL=TEST_POSTGRES_URL,
    )

    assert result.returncode == 0, result.stderr
    vendor, version = result.stdout.split()
    assert vendor == "postgresql"
    assert int(version) >= 140000
