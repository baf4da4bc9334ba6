"""Browser tests: Debian's Chromium driven by Playwright against a live server.

Images are uploaded through the real upload path and encoded with the real MobileSAM
at once (Celery eager mode), so the annotator gets real embeddings.

Pages run under the site's content security policy, which refuses JavaScript eval: give
``page.wait_for_function`` a function (``"() => ..."``), since a bare expression is
evaluated with eval on every poll.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage
from skimage import data

CHROMIUM = Path("/usr/bin/chromium")
# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests
# make there are still synchronous (Django's documented setting for browser tests).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
PASSWORD = "a long test password 42"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError("CI needs /usr/bin/chromium for the browser tests")
    skip = pytest.mark.skip(reason="no /usr/bin/chromium; make setup-dev installs it")
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def e2e_settings(settings: Any, tmp_path: Path) -> Any:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from webapp.celery import app

    app.conf.task_always_eager = True
    yield settings
    app.conf.task_always_eager = False


@dataclass
class Scene:
    """A project with an owner, a label class and images, served by ``url``."""

    url: str
    owner: Any
    project: Any
    label: Any
    images: dict[str, Any]


def png_bytes(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def scene(live_server: Any, e2e_settings: Any, django_user_model: Any) -> Callable[..., Scene]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.images.uploads import ingest_upload
    from webapp.projects.models import LabelClass, Project

    def make(*photos: str) -> Scene:
        owner = django_user_model.objects.create_user("owner", password=PASSWORD)
        project = Project.create_with_owner(owner, name="Kitchen")
        label = LabelClass.objects.create(project=project, name="thing", color="#00a0ff",
                                          shortcut="t")  # fmt: skip
        images = {}
        for name in photos:
            upload = SimpleUploadedFile(f"{name}.png", png_bytes(getattr(data, name)()))
            result = ingest_upload(project, upload, owner)
            images[name] = result.image
        for image in images.values():
            image.refresh_from_db()
            assert image.status == "ready", image.failure_reason
        return Scene(live_server.url, owner, project, label, images)

    return make


@pytest.fixture
def signed_in(browser: Any) -> Callable[[str, str], Any]:
    """A factory: (server url, username) -> a page signed in as that user."""
    contexts = []

    def make(url: str, username: str) -> Any:
        context = browser.new_context(viewport={"width": 1200, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.console_lines = []  # type: ignore[attr-defined]
        page.on("console", lambda m: page.console_lines.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: page.console_lines.append(f"pageerror: {e}"))
        page.goto(f"{url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_load_state()
        return page

    yield make
    annotator_open = any("/annotate" in page.url for c in contexts for page in c.pages)
    for context in contexts:
        context.close()
    # A closing annotator page sends its last report (active time, with keepalive); the
    # live server answers it before the test's database is flushed, which a request in
    # flight would lock.
    if annotator_open:
        time.sleep(1)
