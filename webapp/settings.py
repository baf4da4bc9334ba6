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

from export_onnx.encoder import BACKEND_SETTINGS
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


# SQLite as a default a small team can share with the worker. In WAL mode, readers (an
# export reading thousands of annotations) and the one writer at a time no longer block
# each other; a writer that finds another one waits up to the busy timeout instead of
# failing at once; and every transaction takes the write lock when it begins (IMMEDIATE),
# so two transactions that read and then write cannot each wait for the other, which
# SQLite answers at once with "database is locked" whatever the timeout.
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "timeout": 20,  # seconds
    "transaction_mode": "IMMEDIATE",
}


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
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name, "OPTIONS": SQLITE_OPTIONS}

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
    "rest_framework.authtoken",
    "drf_spectacular",
    # Swagger UI's files, so that /api/docs/ loads nothing from another host.
    "drf_spectacular_sidecar",
    "webapp.core",
    "webapp.accounts",
    "webapp.projects",
    "webapp.images",
    "webapp.annotations",
    "webapp.annotator",
    "webapp.exports",
    "webapp.imports",
    "webapp.workflow",
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

# The segmentation model that new projects use; checkpoints and ONNX builds of it are
# fetched by the set-up (python -m inference.fetch, python -m export_onnx).
SAMLABEL_MODEL = os.environ.get("SAMLABEL_MODEL", DEFAULT_MODEL)
try:
    get_model(SAMLABEL_MODEL)
except UnknownModel as exc:
    raise ImproperlyConfigured(f"SAMLABEL_MODEL: {exc}") from None

# Sign-in pages and the JSON API. Scripts authenticate with a token
# ("Authorization: Token <key>"); browsers with the session.
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "projects:list"
LOGOUT_REDIRECT_URL = "accounts:login"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "samlabel API",
    "DESCRIPTION": "Projects, images, embeddings and annotations of a samlabel server.",
    "VERSION": "1",
    # Swagger UI from our own static files (drf-spectacular-sidecar), not from a CDN, and
    # no online validator badge: the docs page works offline and tells no one it was read.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Several models have a field named "status": name each set of choices. Exports and
    # imports share one (pending, running, done, failed).
    "ENUM_NAME_OVERRIDES": {
        "EncodingStatusEnum": "webapp.images.models.EncodingStatus",
        "JobStatusEnum": "webapp.exports.models.ExportStatus",
    },
}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None


# Uploads: one file may be at most this large; larger requests are refused before
# they are read into memory.
SAMLABEL_MAX_UPLOAD_BYTES = env_int("SAMLABEL_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("SAMLABEL_MAX_FILES_PER_UPLOAD", 500)

# E-mail, for invitations. By default a message is printed on the server's console, so a
# fresh checkout needs no mail server; EMAIL_BACKEND=smtp sends through EMAIL_HOST.
_EMAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}
_email_backend = os.environ.get("EMAIL_BACKEND", "console").strip()
if _email_backend not in _EMAIL_BACKENDS and "." not in _email_backend:
    raise ImproperlyConfigured(
        f"EMAIL_BACKEND={_email_backend!r}: use console, smtp or the dotted path of a backend"
    )
EMAIL_BACKEND = _EMAIL_BACKENDS.get(_email_backend, _email_backend)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "samlabel@localhost")

# File storage: a local folder by default; S3-compatible object storage when a bucket is
# named (credentials and endpoint through django-storages' AWS_* variables).
_S3_BUCKET = os.environ.get("SAMLABEL_S3_BUCKET", "")
STORAGES = {
    "default": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": _S3_BUCKET,
                "endpoint_url": os.environ.get("SAMLABEL_S3_ENDPOINT_URL") or None,
                "default_acl": None,
                "querystring_auth": True,
            },
        }
        if _S3_BUCKET
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Celery. The database is the source of truth; the broker only signals work. By default
# the broker is a folder (kombu's file-system transport), so no server is needed; set
# CELERY_BROKER_URL=redis://127.0.0.1:6379/0 in production.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
_BROKER_DIR = env_path("SAMLABEL_BROKER_DIR", VAR_DIR / "broker")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
        # How long the worker sleeps when it finds a queue folder empty. kombu's 1 s
        # default let through about one task a second (each short task ends with a look
        # at an empty queue): a burst of saves' feature tasks held a new upload's encoding
        # back for minutes. Listing a small folder ten times a second costs nothing.
        "polling_interval": 0.1,
    }
    if CELERY_BROKER_URL.startswith("filesystem://")
    else {"visibility_timeout": env_int("SAMLABEL_VISIBILITY_TIMEOUT", 3600)}
)
# A worker takes its queues in turns, except the background ones (SAMLABEL_BACKGROUND_
# QUEUES, below), taken only when its other queues are empty (webapp.core.broker).
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT = "webapp.core.broker:FilesystemTransport"
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS["queue_order_strategy"] = (
        "webapp.core.broker:BackgroundLastCycle"
    )
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Encoding has its own queue so that GPU workers consume only that (-Q encode); building
# a model's ONNX files needs the same machines (torch, the weights).
CELERY_ENCODE_QUEUE = "encode"
CELERY_TASK_ROUTES = {
    "webapp.images.tasks.encode_image": {"queue": CELERY_ENCODE_QUEUE},
    "webapp.images.tasks.build_decoder": {"queue": CELERY_ENCODE_QUEUE},
}
# Images left pending or encoding longer than this are queued again by the sweep.
SAMLABEL_STUCK_AFTER_SECONDS = env_int("SAMLABEL_STUCK_AFTER_SECONDS", 600)
CELERY_BEAT_SCHEDULE = {
    "requeue-stuck-images": {
        "task": "webapp.images.tasks.sweep_stuck_images",
        "schedule": env_int("SAMLABEL_SWEEP_EVERY_SECONDS", 60),
    },
    "requeue-stuck-imports": {
        "task": "webapp.imports.tasks.sweep_stuck_imports",
        "schedule": env_int("SAMLABEL_SWEEP_EVERY_SECONDS", 60),
    },
    "requeue-stuck-exports": {
        "task": "webapp.exports.tasks.sweep_stuck_exports",
        "schedule": env_int("SAMLABEL_SWEEP_EVERY_SECONDS", 60),
    },
}
# How many pending images a GPU worker encodes in one batch.
SAMLABEL_ENCODE_BATCH_SIZE = env_int("SAMLABEL_ENCODE_BATCH_SIZE", 8)
# The worker's image encoder: "auto" is the fastest for its device (onnxruntime on a CPU,
# PyTorch in bf16 on cuda; see export_onnx/encoder.py); "torch" or "onnx" force one.
SAMLABEL_ENCODER_BACKEND = os.environ.get("SAMLABEL_ENCODER_BACKEND", "").strip() or "auto"
if SAMLABEL_ENCODER_BACKEND not in BACKEND_SETTINGS:
    raise ImproperlyConfigured(
        f"SAMLABEL_ENCODER_BACKEND={SAMLABEL_ENCODER_BACKEND!r}: use auto, torch or onnx"
    )

# ---- Sign-in, tokens and request bodies ----

# Request bodies (webapp/core/request_limits.py): a declared Content-Length over the
# limit is answered 413 before any byte of the body is read. Signed-in people may send
# a batch of uploads or a dataset archive; anyone else a sign-in form or a token request.
SAMLABEL_MAX_REQUEST_BYTES = env_int("SAMLABEL_MAX_REQUEST_BYTES", 2 * 1024**3)
SAMLABEL_MAX_ANONYMOUS_REQUEST_BYTES = env_int("SAMLABEL_MAX_ANONYMOUS_REQUEST_BYTES", 64 * 1024)
if SAMLABEL_MAX_REQUEST_BYTES < SAMLABEL_MAX_UPLOAD_BYTES:
    raise ImproperlyConfigured(
        f"SAMLABEL_MAX_REQUEST_BYTES={SAMLABEL_MAX_REQUEST_BYTES} is less than "
        f"SAMLABEL_MAX_UPLOAD_BYTES={SAMLABEL_MAX_UPLOAD_BYTES}: no file that large could be sent"
    )
if SAMLABEL_MAX_ANONYMOUS_REQUEST_BYTES < 1024:
    raise ImproperlyConfigured(
        f"SAMLABEL_MAX_ANONYMOUS_REQUEST_BYTES={SAMLABEL_MAX_ANONYMOUS_REQUEST_BYTES}: "
        "a sign-in form needs at least 1024 bytes"
    )
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "webapp.core.request_limits.RequestBodyLimitMiddleware",
)


def env_positive_int(name: str, default: int) -> int:
    value = env_int(name, default)
    if value < 1:
        raise ImproperlyConfigured(f"{name}={value}: use a whole number of 1 or more")
    return value


# Sign-in (webapp/accounts/backends.py): after this many failed sign-ins within the
# lock-out time, the account, or the address they came from, is refused (even with the
# right password) until the failures are that old. Every password check (the sign-in
# page, the admin's, the API token endpoint) goes through this backend.
AUTHENTICATION_BACKENDS = ["webapp.accounts.backends.ThrottledModelBackend"]
SAMLABEL_SIGNIN_FAILURES_PER_ACCOUNT = env_positive_int("SAMLABEL_SIGNIN_FAILURES_PER_ACCOUNT", 5)
SAMLABEL_SIGNIN_FAILURES_PER_ADDRESS = env_positive_int("SAMLABEL_SIGNIN_FAILURES_PER_ADDRESS", 20)
SAMLABEL_SIGNIN_LOCKOUT_SECONDS = env_positive_int("SAMLABEL_SIGNIN_LOCKOUT_SECONDS", 15 * 60)
# How many proxies in front of the app append to X-Forwarded-For (nginx: 1). With 0 the
# connection's peer is the address; behind a proxy that would lock everyone out at once.
SAMLABEL_TRUSTED_PROXIES = env_int("SAMLABEL_TRUSTED_PROXIES", 0)
if SAMLABEL_TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured(
        f"SAMLABEL_TRUSTED_PROXIES={SAMLABEL_TRUSTED_PROXIES}: use 0 or more"
    )

# API tokens (webapp/accounts/tokens.py) stop working this long after they are made;
# their owner revokes them earlier with DELETE /api/auth/token/ or on the password page.
SAMLABEL_TOKEN_TTL_SECONDS = env_positive_int("SAMLABEL_TOKEN_TTL_DAYS", 30) * 24 * 3600
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
    "rest_framework.authentication.SessionAuthentication",
    "webapp.accounts.tokens.ExpiringTokenAuthentication",
]

# ---- Production: static files, HTTPS and content security policy ----

# HTTPS. With DEBUG off every one of these is on unless its variable turns it off; a
# test server on plain http (see tests/e2e/test_production_server.py) turns off the
# redirect and the secure cookies, nothing else should.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """Read the header a TLS-terminating proxy sets: ``X-Forwarded-Proto`` (meaning
    ``X-Forwarded-Proto: https``) or ``Header=value``; unset or empty means no proxy."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    header, _, value = raw.partition("=")
    header, value = header.strip(), value.strip() or "https"
    if not header or not all(c.isalnum() or c == "-" for c in header):
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a header name; use X-Forwarded-Proto or Header=value"
        )
    return "HTTP_" + header.upper().replace("-", "_"), value


# Only behind a proxy that always sets (or strips) this header: otherwise a client could
# claim https itself.
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
for _origin in CSRF_TRUSTED_ORIGINS:
    if urlsplit(_origin).scheme not in {"http", "https"} or not urlsplit(_origin).netloc:
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS: {_origin!r} is not an origin such as https://labels.example.org"
        )

# The Content-Security-Policy of every page (webapp/core/security_headers.py), on in
# debug mode too so that tests meet what production does. Only this server's own files
# run: the annotator compiles onnxruntime-web's WebAssembly ('wasm-unsafe-eval', which
# allows no JavaScript eval) in its decoder's worker, and onnxruntime-web starts its
# threads as workers of its own script, from this server too. A nonce per response
# admits the few inline <style> and <script> blocks that templates mark with it. Swagger
# UI's stylesheet draws its icons from data: URLs. Every file, S3-stored ones included,
# is streamed by this server.
SAMLABEL_CONTENT_SECURITY_POLICY: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'", "'wasm-unsafe-eval'"],
    "worker-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "webapp.core.security_headers.ContentSecurityPolicyMiddleware",
)

# With DEBUG off, the application serves the static files itself (WhiteNoise), from
# STATIC_ROOT, so gunicorn alone serves complete pages. collectstatic, part of every
# release, names each file after its content (so browsers may keep it for good) and
# compresses it. With DEBUG on, runserver serves them from the apps' folders. WhiteNoise
# comes right after SecurityMiddleware, before any other middleware does work.
if not DEBUG:
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )
    STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}

# ---- Hostile input: parsers and limits ----

# JSON bodies nested deeper than webapp.core.parsers.MAX_JSON_DEPTH are refused with a 400
# before they are parsed (json's recursive parser turned thousands of brackets into a 500).
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "webapp.core.parsers.BoundedJSONParser",
    "rest_framework.parsers.FormParser",
    "rest_framework.parsers.MultiPartParser",
]

# Dataset imports: an archive's members may hold at most SAMLABEL_MAX_IMPORT_BYTES
# uncompressed, in at most SAMLABEL_MAX_IMPORT_MEMBERS files; one JSON document (a COCO
# file) at most SAMLABEL_MAX_IMPORT_JSON_BYTES, read once into memory.
SAMLABEL_MAX_IMPORT_BYTES = env_int("SAMLABEL_MAX_IMPORT_BYTES", 2 * 1024**3)
SAMLABEL_MAX_IMPORT_MEMBERS = env_int("SAMLABEL_MAX_IMPORT_MEMBERS", 100_000)
SAMLABEL_MAX_IMPORT_JSON_BYTES = env_int("SAMLABEL_MAX_IMPORT_JSON_BYTES", 64 * 1024**2)

# ---- Images: formats, decoding and display copies ----
# What one image may cost to decode: SAMLABEL_MAX_IMAGE_PIXELS (default 100 million) and
# SAMLABEL_MAX_DECODED_BYTES (default 256 MiB, bytes per pixel counted: a 16-bit or RGB
# pixel costs more than an 8-bit grey one). inference.images reads them, since it never
# imports Django; read here too so that a bad value stops the start, naming the variable.
try:
    import inference.images as _image_limits
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
SAMLABEL_MAX_IMAGE_PIXELS = _image_limits.MAX_PIXELS
SAMLABEL_MAX_DECODED_BYTES = _image_limits.MAX_DECODED_BYTES

# ---- Jobs: exports and imports ----

# Finished exports (and their zips) are deleted this many days after they finish, and
# failed or cancelled imports give up the upload they kept for a retry; 0 keeps both for
# ever. An hourly beat task does the deleting.
SAMLABEL_EXPORT_TTL_DAYS = env_int("SAMLABEL_EXPORT_TTL_DAYS", 7)
if SAMLABEL_EXPORT_TTL_DAYS < 0:
    raise ImproperlyConfigured(
        f"SAMLABEL_EXPORT_TTL_DAYS={SAMLABEL_EXPORT_TTL_DAYS}: use a number of days, or 0 for never"
    )
CELERY_BEAT_SCHEDULE["delete-expired-exports"] = {
    "task": "webapp.exports.tasks.delete_expired_exports",
    "schedule": 3600,
}
CELERY_BEAT_SCHEDULE["discard-expired-import-uploads"] = {
    "task": "webapp.imports.tasks.discard_expired_uploads",
    "schedule": 3600,
}

# ---- Reviews ----
# Review issues and the history of annotations (webapp.reviews); the sweep that gives
# back images whose holder's lease has passed runs every minute.
INSTALLED_APPS += ["webapp.reviews"]
CELERY_BEAT_SCHEDULE["release-expired-leases"] = {
    "task": "webapp.workflow.tasks.release_expired_leases",
    "schedule": 60,
}
# Issues have a "status" too (open, resolved): their choices get their own name.
_enum_names = SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]
if isinstance(_enum_names, dict):
    _enum_names["IssueStatusEnum"] = "webapp.reviews.models.IssueStatus"
    _enum_names["ProjectCheckStateEnum"] = "webapp.qualityrules.models.ProjectCheckState"
    _enum_names["WorkStateEnum"] = "webapp.workflow.models.WorkState"

# ---- Database connections and request cost ----
# Each gunicorn thread keeps its database connection open between requests for this many
# seconds (0: a new connection per request, which costs a PostgreSQL server a process
# start and an authentication every time), and checks before reusing it that the
# server has not dropped it. A server handles at most workers × threads connections at
# once; PostgreSQL's max_connections must leave room for them and the Celery workers.
# SQLite's default is 0: opening its file is cheap, and runserver's thread per request
# would leave a connection open in every thread it ever started.
_DEFAULT_CONN_MAX_AGE = 60 if str(DATABASES["default"]["ENGINE"]).endswith("postgresql") else 0
SAMLABEL_DB_CONN_MAX_AGE = env_int("SAMLABEL_DB_CONN_MAX_AGE", _DEFAULT_CONN_MAX_AGE)
if SAMLABEL_DB_CONN_MAX_AGE < 0:
    raise ImproperlyConfigured(
        f"SAMLABEL_DB_CONN_MAX_AGE={SAMLABEL_DB_CONN_MAX_AGE}: use a number of seconds, or 0"
    )
DATABASES["default"]["CONN_MAX_AGE"] = SAMLABEL_DB_CONN_MAX_AGE
DATABASES["default"]["CONN_HEALTH_CHECKS"] = SAMLABEL_DB_CONN_MAX_AGE > 0
# PostgreSQL: send each statement's parameters apart from its text (server-side binding),
# which lets psycopg prepare a statement once a connection has run it a few times, so the
# server plans it once instead of at every request (about a fifth of the cost of next
# image, save and submit on 2 cores). Turn it off behind a pooler that cannot keep
# prepared statements (PgBouncer in transaction mode before 1.21).
SAMLABEL_DB_SERVER_BINDING = env_bool(
    "SAMLABEL_DB_SERVER_BINDING",
    default=str(DATABASES["default"]["ENGINE"]).endswith("postgresql"),
)
if str(DATABASES["default"]["ENGINE"]).endswith("postgresql"):
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    assert isinstance(_options, dict)
    _options["server_side_binding"] = SAMLABEL_DB_SERVER_BINDING

# ---- Proposals ----
# Masks the worker proposes on its own for each encoded image (webapp.proposals). They
# need the same machines as encoding (torch, the weights) but have a queue of their own,
# taken in the background: a run takes many times an encoding on a CPU, and on the
# encode queue an upload's encoding and a save's pooled feature waited behind every run
# queued before them (97 s behind three runs on a 2-core CPU; docs/benchmarks.md), while
# taking turns with the encode queue would encode a batch upload one image per run. A
# worker (-Q crops,encode,proposals,celery) takes it only when its other queues are
# empty. A sweep queues again the runs a lost message or a dead worker left behind.
INSTALLED_APPS += ["webapp.proposals"]
CELERY_PROPOSALS_QUEUE = "proposals"
CELERY_TASK_ROUTES["webapp.proposals.tasks.generate_proposals"] = {"queue": CELERY_PROPOSALS_QUEUE}
SAMLABEL_BACKGROUND_QUEUES = (CELERY_PROPOSALS_QUEUE,)
CELERY_BEAT_SCHEDULE["requeue-stuck-proposal-runs"] = {
    "task": "webapp.proposals.tasks.sweep_stuck_proposal_runs",
    "schedule": env_int("SAMLABEL_SWEEP_EVERY_SECONDS", 60),
}
# SAMLABEL_PROPOSAL_PARAMS: a JSON object of generation parameters that replace the
# defaults of inference.everything.EverythingParams, e.g. {"points_per_side": 16} for a
# quarter of the work on a small CPU. Images whose proposals were made with other
# parameters get new ones when asked again.
import json  # noqa: E402

try:
    SAMLABEL_PROPOSAL_PARAMS = json.loads(os.environ.get("SAMLABEL_PROPOSAL_PARAMS") or "{}")
except ValueError as exc:
    raise ImproperlyConfigured(f"SAMLABEL_PROPOSAL_PARAMS is not JSON: {exc}") from None
if not isinstance(SAMLABEL_PROPOSAL_PARAMS, dict) or not all(
    isinstance(v, int | float | bool) for v in SAMLABEL_PROPOSAL_PARAMS.values()
):
    raise ImproperlyConfigured(
        'SAMLABEL_PROPOSAL_PARAMS must be a JSON object of numbers, as {"points_per_side": 16}'
    )
if isinstance(_enum_names, dict):
    _enum_names["ProposalRunStatusEnum"] = "webapp.proposals.models.ProposalRunStatus"

# ---- Suggestions ----
# Class suggestions (webapp.suggestions): each annotation's mask pools the image's
# embedding on the worker, on the encode queue beside the embeddings it reads. A label
# class is suggested once it has SAMLABEL_SUGGESTION_MIN_EXAMPLES labelled annotations.
INSTALLED_APPS += ["webapp.suggestions"]
CELERY_TASK_ROUTES["webapp.suggestions.tasks.pool_annotation"] = {"queue": CELERY_ENCODE_QUEUE}
CELERY_TASK_ROUTES["webapp.suggestions.tasks.pool_image"] = {"queue": CELERY_ENCODE_QUEUE}
SAMLABEL_SUGGESTION_MIN_EXAMPLES = env_int("SAMLABEL_SUGGESTION_MIN_EXAMPLES", 3)
if SAMLABEL_SUGGESTION_MIN_EXAMPLES < 1:
    raise ImproperlyConfigured(
        f"SAMLABEL_SUGGESTION_MIN_EXAMPLES={SAMLABEL_SUGGESTION_MIN_EXAMPLES}: use 1 or more"
    )
# The annotator pre-selects a suggested class only from the confidence at which, on the
# project's own labels, suggestions are right this percent of the time
# (webapp.suggestions.calibration).
SAMLABEL_SUGGESTION_PRESELECT_PERCENT = env_int("SAMLABEL_SUGGESTION_PRESELECT_PERCENT", 80)
if not 1 <= SAMLABEL_SUGGESTION_PRESELECT_PERCENT <= 100:
    raise ImproperlyConfigured(
        f"SAMLABEL_SUGGESTION_PRESELECT_PERCENT={SAMLABEL_SUGGESTION_PRESELECT_PERCENT}: "
        "use a whole number from 1 to 100"
    )

# ---- Crops ----
# Crop embeddings (webapp.crops): SAM's embedding of the region of a large image a person
# zoomed into, so that clicks there are decoded at full detail. They have their own queue
# so that a person waiting for one does not wait behind the bulk encoding of uploads:
# workers consume it first (-Q crops,encode,proposals,celery) or alone on a machine of their own.
INSTALLED_APPS += ["webapp.crops"]
CELERY_CROP_QUEUE = "crops"
CELERY_TASK_ROUTES["webapp.crops.tasks.encode_crop"] = {"queue": CELERY_CROP_QUEUE}
CELERY_BEAT_SCHEDULE["requeue-stuck-crops"] = {
    "task": "webapp.crops.tasks.sweep_stuck_crops",
    "schedule": env_int("SAMLABEL_SWEEP_EVERY_SECONDS", 60),
}
# Crops nobody asked for or fetched for this many days are deleted with their files (0: never).
SAMLABEL_CROP_TTL_DAYS = env_int("SAMLABEL_CROP_TTL_DAYS", 30)
if SAMLABEL_CROP_TTL_DAYS < 0:
    raise ImproperlyConfigured(
        f"SAMLABEL_CROP_TTL_DAYS={SAMLABEL_CROP_TTL_DAYS}: use a number of days, or 0 for never"
    )
CELERY_BEAT_SCHEDULE["delete-unused-crops"] = {
    "task": "webapp.crops.tasks.delete_unused_crops",
    "schedule": 3600,
}

# Quality rules (issue 17): rules checked at submit, accept and for whole projects; rule
# code written by managers runs in Pyodide under Node.js (webapp/qualityrules/sandbox.py).
INSTALLED_APPS += ["webapp.qualityrules"]
# One rule on one image may run this long before the sandbox stops it.
SAMLABEL_RULES_SECONDS = env_positive_int("SAMLABEL_RULES_SECONDS", 2)
# Python's heap in the sandbox (a rule past it gets MemoryError) and the whole process.
SAMLABEL_RULES_PYTHON_MB = env_positive_int("SAMLABEL_RULES_PYTHON_MB", 512)
SAMLABEL_RULES_PROCESS_MB = env_positive_int("SAMLABEL_RULES_PROCESS_MB", 1280)
# Images per sandbox run in a whole-project check.
SAMLABEL_RULES_BATCH = env_positive_int("SAMLABEL_RULES_BATCH", 500)
# Warm runners: each web or worker process keeps a sandboxed process (Pyodide started)
# waiting for the next check of up to this many rule sets, plus one spare (0: a process
# of its own for every check, none kept); a process serves this many checks at most.
SAMLABEL_RULES_WARM_SETS = env_int("SAMLABEL_RULES_WARM_SETS", 2)
SAMLABEL_RULES_REUSE = env_positive_int("SAMLABEL_RULES_REUSE", 100)
if SAMLABEL_RULES_WARM_SETS < 0:
    raise ImproperlyConfigured(
        f"SAMLABEL_RULES_WARM_SETS={SAMLABEL_RULES_WARM_SETS}: use 0 or more"
    )
CELERY_BEAT_SCHEDULE["requeue-stuck-project-checks"] = {
    "task": "webapp.qualityrules.tasks.sweep_stuck_project_checks",
    "schedule": env_int("SAMLABEL_SWEEP_EVERY_SECONDS", 60),
}
