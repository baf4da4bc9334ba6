"""A fresh installation gets a first account at start; later starts leave users alone."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_a_fresh_installation_gets_an_admin_whose_password_is_printed(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    username, password = (tmp_path / "var" / "admin-password.txt").read_text().split()
    assert username == "admin" and password in out.getvalue()
    user = authenticate(username="admin", password=password)
    assert user is not None and user.is_superuser
    assert (tmp_path / "var" / "admin-password.txt").stat().st_mode & 0o077 == 0


def test_nothing_happens_once_a_user_exists(settings, tmp_path, make_user):
    settings.BASE_DIR = tmp_path
    make_user(username="someone")
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    assert out.getvalue() == ""
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["someone"]
    assert not (tmp_path / "var").exists()
