"""Fixtures every test package shares."""

from __future__ import annotations

from pathlib import Path

import pytest


# Here rather than in tests/webapp/: the test database is made once per run, by whichever
# test first needs it, wherever that test lives (a benchmark's test, a browser test...).
@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """On SQLite, put the test database in a file rather than in memory, so that a Celery
    worker started by a test (a separate process) sees the same database. On PostgreSQL,
    name the test database after this process, so that two test runs on one server (a
    developer's and an editor's, say) do not drop each other's database."""
    import os
    import tempfile

    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        folder = tempfile.mkdtemp(prefix="samlabel-test-db-")
        database.setdefault("TEST", {})["NAME"] = str(Path(folder) / "test.sqlite3")
    elif database["ENGINE"] == "django.db.backends.postgresql":
        test = database.setdefault("TEST", {})
        if not test.get("NAME"):
            test["NAME"] = f"test_{database['NAME']}_{os.getpid()}"
