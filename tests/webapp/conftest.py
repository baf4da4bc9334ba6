from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_django.fixtures
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.test import APIClient

from webapp.projects.models import Membership, Project

if TYPE_CHECKING:
    from tests.webapp.celery_processes import RedisServer, Worker

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


# Factories for users, projects and members. Each fixture returns a function, so a test
# makes exactly the rows it needs; they need the database (``db`` fixture or mark).

DEFAULT_PASSWORD = "correct-horse-battery-staple"

MakeUser = Callable[..., AbstractBaseUser]
MakeProject = Callable[..., Project]
AddMember = Callable[[Project, AbstractBaseUser, str], Membership]
ApiClientFor = Callable[[AbstractBaseUser | None], APIClient]


@pytest.fixture
def make_user(db: None) -> MakeUser:
    """``make_user(username="ann", password=..., email=...)``; names default to user1, user2..."""
    serial = iter(range(1, 10**6))

    def make(
        username: str | None = None, password: str = DEFAULT_PASSWORD, **fields: object
    ) -> AbstractBaseUser:
        name = username or f"user{next(serial)}"
        fields.setdefault("email", f"{name}@example.com")
        return get_user_model().objects.create_user(username=name, password=password, **fields)

    return make


@pytest.fixture
def make_project(db: None, make_user: MakeUser) -> MakeProject:
    """``make_project(owner=user, name=..., model=...)``: ``owner`` becomes its owner
    (a new user when left out)."""
    serial = iter(range(1, 10**6))

    def make(owner: AbstractBaseUser | None = None, **fields: object) -> Project:
        fields.setdefault("name", f"Project {next(serial)}")
        return Project.create_with_owner(owner or make_user(), **fields)

    return make


@pytest.fixture
def add_member(db: None) -> AddMember:
    """``add_member(project, user, "annotator")``."""

    def add(project: Project, user: AbstractBaseUser, role: str) -> Membership:
        return Membership.objects.create(project=project, user=user, role=role)

    return add


@pytest.fixture
def api_client() -> ApiClientFor:
    """``api_client(user)``: a DRF client signed in as ``user`` (anonymous for None)."""

    def client_for(user: AbstractBaseUser | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return client_for


UserIn = Callable[[Project, str], AbstractBaseUser]


@pytest.fixture
def user_in(make_user: MakeUser, add_member: AddMember) -> UserIn:
    """``user_in(project, "manager")``: a new user with that role there; ``"owner"`` gives
    the project's first owner and ``"outsider"`` a user who is no member at all."""

    def user(project: Project, role: str) -> AbstractBaseUser:
        if role == "outsider":
            return make_user()
        if role == "owner":
            return project.memberships.filter(role="owner").earliest("id").user
        member = make_user()
        add_member(project, member, role)
        return member

    return user


# --- images ---


@pytest.fixture
def media_root(settings: pytest_django.fixtures.Settings, tmp_path: Path) -> Path:
    """A fresh, empty MEDIA_ROOT for the test; returns the folder."""
    folder = tmp_path / "media"
    folder.mkdir()
    settings.MEDIA_ROOT = str(folder)
    return folder


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """PBKDF2 takes about a second per password here; tests sign in, they do not attack."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


MakeImageRow = Callable[..., Any]


@pytest.fixture
def make_image_row(db: None, settings: Any, tmp_path: Path) -> MakeImageRow:
    """``make_image_row(project, name="a.png", status="ready")``: an Image row with a tiny
    real PNG stored under a temporary MEDIA_ROOT; nothing is encoded."""
    import hashlib
    import io

    from django.core.files.base import ContentFile
    from PIL import Image as PILImage

    from webapp.images.models import Image

    settings.MEDIA_ROOT = tmp_path / "media"
    serial = iter(range(1, 10**6))

    def make(project: Project, name: str = "", status: str = "pending", **fields: Any) -> Any:
        n = next(serial)
        buffer = io.BytesIO()
        PILImage.new("RGB", (4, 3), (n % 256, 0, 0)).save(buffer, format="PNG")
        content = buffer.getvalue()
        return Image.objects.create(
            project=project,
            file=ContentFile(content, name="upload.png"),
            original_name=name or f"image{n}.png",
            sha256=hashlib.sha256(content + str(n).encode()).hexdigest(),
            status=status,
            **{"width": 4, "height": 3, **fields},
        )

    return make


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own on a free port (never the shared one)."""
    from tests.webapp.celery_processes import RedisServer

    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """``start_worker(broker_url, media_root, beat=False, **environment)``: a Celery
    worker subprocess on the test's database; every one is stopped after the test."""
    from tests.webapp.celery_processes import Worker

    workers: list[Worker] = []

    def start(broker_url: str, media_root: Path, **options: Any) -> Worker:
        log = tmp_path / f"worker{len(workers) + 1}.log"
        worker = Worker(log, broker_url, media_root, **options)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def model_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An empty weights and ONNX cache for this test (see factories_models.ModelCache):
    no model is ready until ``model_cache.add_weights(name)``."""
    from tests.webapp.factories_models import ModelCache

    return ModelCache(tmp_path / "samlabel-cache", monkeypatch)
