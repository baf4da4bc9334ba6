from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Variables the settings read; a start-up test begins from none of them so that the
# developer's own shell cannot change its outcome.
SETTINGS_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "MEDIA_ROOT",
    "STATIC_ROOT",
    "SAMLABEL_MODEL",
)

RunManage = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_manage() -> RunManage:
    """Return a function that runs ``python manage.py ARGS`` in a fresh process with the
    given environment variables (on top of a clean settings environment)."""

    def run(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
        env.update(environment)
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run
