"""``python manage.py ensure_admin``: on a fresh installation, create a first account.

When no user exists yet, creates the superuser ``admin`` (or ``--username``) with a
random password, prints it once and writes it to ``var/admin-password.txt`` (readable
by its owner only). Does nothing when any user exists, so it is safe at every start.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        users = get_user_model()
        if users.objects.exists():
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser(username, email="", password=password)
        path = Path(settings.BASE_DIR) / "var" / "admin-password.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{username} {password}\n")
        path.chmod(0o600)
        self.stdout.write(
            f"Created the first account: user {username!r}, password {password!r} "
            f"(also in {path}). Sign in at http://127.0.0.1:8000/ and change it at "
            "http://127.0.0.1:8000/accounts/password/."
        )
