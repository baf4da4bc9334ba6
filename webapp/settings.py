"""The one settings module of the samlabel web application.

Every value that differs between deployments comes from an environment variable with a
default that suits a fresh checkout: SQLite in ``var/``, debug on, no servers to run.
A value that cannot be understood stops start-up with a message naming its variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from inference.registry import DEFAULT_MODEL, UnknownModel, get_model

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no variable: 1/0, true/false, yes/no, on/off (any case)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a yes/no value; use 1 or 0")


def env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated variable; blanks around items are ignored."""
    raw = os.environ.get(name, default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


_POSTGRES_SCHEMES = {"postgres", "postgresql"}


def database_from_url(url: str, variable: str = "DATABASE_URL") -> dict[str, object]:
    """Turn a database URL into one entry of Django's ``DATABASES``.

    Accepted forms:

    - ``sqlite:///relative/path.sqlite3`` (relative to the repository root),
      ``sqlite:////absolute/path.sqlite3`` and ``sqlite:///:memory:``;
    - ``postgres://user:password@host:port/name?sslmode=require`` (``postgresql://``
      too); user, password, host and port may be left out, and query parameters become
      connection options. Percent-escapes in the user and password are decoded.

    Raises :class:`ImproperlyConfigured` naming ``variable`` for anything else.
    """

    def invalid(reason: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(
            f"{variable}={url!r} is not a usable database URL: {reason}. Expected "
            "sqlite:///path/to/db.sqlite3 or postgres://user:password@host:port/name"
        )

    try:
        parts = urlsplit(url.strip())
        port = parts.port  # parsing the port raises ValueError when it is not a number
    except ValueError as exc:
        raise invalid(str(exc)) from None
    scheme = parts.scheme.lower()

    if scheme == "sqlite":
        if parts.netloc:
            raise invalid("a SQLite URL has no host; write three slashes, sqlite:///path")
        path = parts.path[1:]  # the slash after the empty host is not part of the path
        if not path:
            raise invalid("no database file is named")
        name: str | Path = path if path == ":memory:" else BASE_DIR / path
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name}

    if scheme in _POSTGRES_SCHEMES:
        name = unquote(parts.path.lstrip("/"))
        if not name or "/" in name:
            raise invalid("the path must be the database name, as in /samlabel")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": unquote(parts.hostname or ""),
            "PORT": str(port) if port is not None else "",
            "OPTIONS": dict(parse_qsl(parts.query)),
        }

    raise invalid(f"the scheme {parts.scheme or '(none)'!r} is not sqlite or postgres")


# Security. The default key is public: it keeps a fresh checkout working and is refused
# whenever DEBUG is off, so a deployment cannot run with it by accident.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-set-SECRET_KEY-in-production"
DEBUG = env_bool("DEBUG", default=True)
SECRET_KEY = os.environ.get("SECRET_KEY", _DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set and DEBUG is false: set the SECRET_KEY environment variable "
        "to a long random string before running with DEBUG=0"
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "webapp.core",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(os.environ.get("DATABASE_URL", "sqlite:///var/db.sqlite3"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_path("STATIC_ROOT", VAR_DIR / "static")
MEDIA_URL = "media/"
MEDIA_ROOT = env_path("MEDIA_ROOT", VAR_DIR / "media")

# The segmentation model that new projects use; checkpoints and exports of it are
# fetched by the set-up (python -m inference.fetch, python -m export_onnx).
SAMLABEL_MODEL = os.environ.get("SAMLABEL_MODEL", DEFAULT_MODEL)
try:
    get_model(SAMLABEL_MODEL)
except UnknownModel as exc:
    raise ImproperlyConfigured(f"SAMLABEL_MODEL: {exc}") from None
