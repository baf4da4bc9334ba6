"""The production settings: with DEBUG off and a secret key, Django's deployment check
finds nothing to warn about; each HTTPS setting can be turned off by its variable."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

from tests.webapp.conftest import REPO_ROOT, SETTINGS_VARIABLES

# Every variable that decides the outcome; each test starts from none of them.
VARIABLES = (
    *SETTINGS_VARIABLES,
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "CSRF_TRUSTED_ORIGINS",
    "DJANGO_SETTINGS_MODULE",
    # The browser tests set it in this process (Playwright's event loop); check --deploy
    # warns about it, rightly: a deployment never sets it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)
PRINT_SETTINGS = """
import json
from django.conf import settings
names = ["SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
         "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
         "SECURE_PROXY_SSL_HEADER", "CSRF_TRUSTED_ORIGINS", "MIDDLEWARE", "STORAGES"]
print(json.dumps({name: getattr(settings, name) for name in names}))
"""


def manage(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update(environment)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production(**environment: str) -> dict[str, str]:
    return {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), **environment}


def settings_with(**environment: str) -> dict:
    result = manage("shell", "--no-imports", "-c", PRINT_SETTINGS, **environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_deployment_check_is_clean_with_debug_off_and_a_secret_key() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deployment_check_warns_when_https_is_turned_off() -> None:
    result = manage(
        "check",
        "--deploy",
        **production(SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0", SECURE_HSTS_SECONDS="0"),
    )

    assert "security.W008" in result.stderr
    assert "security.W012" in result.stderr
    assert "security.W004" in result.stderr


def test_debug_off_turns_on_https_and_serves_static_files() -> None:
    values = settings_with(**production())

    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] is None
    middleware = values["MIDDLEWARE"]
    assert middleware[:2] == [
        "django.middleware.security.SecurityMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
    ]
    assert "webapp.core.security_headers.ContentSecurityPolicyMiddleware" in middleware
    assert values["STORAGES"]["staticfiles"]["BACKEND"] == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )


def test_a_fresh_checkout_in_debug_mode_works_over_plain_http() -> None:
    values = settings_with()

    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert "whitenoise.middleware.WhiteNoiseMiddleware" not in values["MIDDLEWARE"]
    assert "webapp.core.security_headers.ContentSecurityPolicyMiddleware" in values["MIDDLEWARE"]


def test_each_https_setting_has_its_own_variable() -> None:
    values = settings_with(
        **production(
            SECURE_SSL_REDIRECT="off",
            SESSION_COOKIE_SECURE="0",
            CSRF_COOKIE_SECURE="no",
            SECURE_HSTS_SECONDS="3600",
            SECURE_HSTS_PRELOAD="0",
            SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
            CSRF_TRUSTED_ORIGINS="https://labels.example.org, https://other.example.org",
        )
    )

    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 3600
    assert values["SECURE_HSTS_PRELOAD"] is False
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["CSRF_TRUSTED_ORIGINS"] == [
        "https://labels.example.org",
        "https://other.example.org",
    ]


def test_a_proxy_header_may_name_its_value() -> None:
    values = settings_with(SECURE_PROXY_SSL_HEADER="X-Scheme=HTTPS")

    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_SCHEME", "HTTPS"]


def test_start_up_fails_with_an_unusable_proxy_header() -> None:
    result = manage("check", SECURE_PROXY_SSL_HEADER="X Forwarded: https")

    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER='X Forwarded: https' is not a header name" in result.stderr


def test_start_up_fails_with_a_trusted_origin_that_is_no_origin() -> None:
    result = manage("check", CSRF_TRUSTED_ORIGINS="labels.example.org")

    assert result.returncode != 0
    assert "CSRF_TRUSTED_ORIGINS: 'labels.example.org' is not an origin" in result.stderr
