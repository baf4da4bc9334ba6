"""The production configuration in a real browser: gunicorn with ``DEBUG=0``, static
files gathered by collectstatic and served by the application, and the content security
policy on. Every page loads its styles and scripts, and the annotator starts its decoder
(onnxruntime-web's WebAssembly, in a worker, with threads) with no policy violation.

The server runs on plain http on 127.0.0.1, so the test turns off the HTTPS redirect and
the secure cookies; that is for this test only (see README, "In production").
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import PASSWORD
from tests.webapp.conftest import REPO_ROOT, SETTINGS_VARIABLES

# Every variable the settings read that could change this test's outcome from the
# developer's shell; the test sets those it needs.
CLEARED = (
    *SETTINGS_VARIABLES,
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
    "CSRF_TRUSTED_ORIGINS",
    "CELERY_BROKER_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "SAMLABEL_S3_BUCKET",
    "DJANGO_SETTINGS_MODULE",
)

# Run in the server's environment with manage.py shell: an owner (staff, to see the
# admin too), a project with a label class, and one image, encoded at once.
SCENE = """
import io
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from skimage import data
from webapp.images.uploads import ingest_upload
from webapp.projects.models import LabelClass, Project

owner = get_user_model().objects.create_user("owner", password={password!r}, is_staff=True,
                                             is_superuser=True)
project = Project.create_with_owner(owner, name="Kitchen")
LabelClass.objects.create(project=project, name="mug", color="#00a0ff", shortcut="m")
png = io.BytesIO()
PILImage.fromarray(data.coffee()).save(png, format="PNG")
image = ingest_upload(project, SimpleUploadedFile("coffee.png", png.getvalue()), owner).image
image.refresh_from_db()
assert image.status == "ready", image.failure_reason
print(project.pk, image.pk)
"""


@dataclass
class ProductionServer:
    url: str
    project_id: int
    image_id: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"manage.py {args[0]}: {result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionServer]:
    """gunicorn serving a fresh SQLite database as the README's production start does:
    migrate, collectstatic, then gunicorn with DEBUG=0 and a secret key."""
    root = tmp_path_factory.mktemp("production")
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=f"sqlite:///{root / 'db.sqlite3'}",
        STATIC_ROOT=str(root / "static"),
        MEDIA_ROOT=str(root / "media"),
        SAMLABEL_BROKER_DIR=str(root / "broker"),
        # Plain http on 127.0.0.1, for this test only.
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
    )
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    # The scene's image is encoded in this one process, not by a worker.
    project_id, image_id = map(
        int,
        manage({**env, "CELERY_TASK_ALWAYS_EAGER": "1"}, "shell", "--no-imports", "-c",
               SCENE.format(password=PASSWORD)).split(),
    )  # fmt: skip

    port = free_port()
    log = (root / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "webapp.wsgi", "--bind",
         f"127.0.0.1:{port}", "--workers", "2", "--threads", "4"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/accounts/login/", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start: {(root / 'gunicorn.log').read_text()}")
                time.sleep(0.2)
        yield ProductionServer(url, project_id, image_id)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@dataclass
class PageWatch:
    """What the browser reported while a page loaded: console errors and warnings, script
    errors, content security policy violations, and every response's status by URL."""

    problems: list[str] = field(default_factory=list)
    responses: dict[str, Any] = field(default_factory=dict)


# Violations are events in the page; the policy also reports each in the console.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


@pytest.fixture
def watched_page(browser: Any) -> Iterator[tuple[Any, PageWatch]]:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.add_init_script(RECORD_VIOLATIONS)
    # The site has no favicon; the browser's own request for one is no page's resource.
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page = context.new_page()
    watch = PageWatch()
    page.on(
        "console",
        lambda m: (
            watch.problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
        ),
    )
    page.on("pageerror", lambda e: watch.problems.append(f"pageerror: {e}"))
    page.on("response", lambda r: watch.responses.__setitem__(r.url, r))
    try:
        yield page, watch
    finally:
        context.close()


def assert_loaded_cleanly(page: Any, watch: PageWatch) -> None:
    """The page's stylesheets and scripts all arrived (200), and nothing was refused."""
    violations = page.evaluate("window.__violations")
    assert violations == [], violations
    failed = {url: r.status for url, r in watch.responses.items() if r.status >= 400}
    assert failed == {}, failed
    assert watch.problems == [], watch.problems
    stylesheets = page.evaluate(
        "[...document.styleSheets].filter(s => s.href).map(s => [s.href, s.cssRules.length])"
    )
    scripts = page.evaluate("[...document.scripts].filter(s => s.src).map(s => s.src)")
    for href, rules in stylesheets:
        assert watch.responses[href].status == 200, href
        assert rules > 0, href
    for src in scripts:
        assert watch.responses[src].status == 200, src


def sign_in(page: Any, url: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{url}/projects/")


def test_pages_load_their_styles_and_scripts_under_gunicorn_with_debug_off(
    production_server: ProductionServer, watched_page: tuple[Any, PageWatch]
) -> None:
    page, watch = watched_page
    url = production_server.url

    sign_in(page, url)
    assert page.locator("a", has_text="Kitchen").count() == 1
    site_css = next(u for u in watch.responses if "/static/core/site." in u)
    assert site_css.endswith(".css") and site_css != f"{url}/static/core/site.css"
    assert "max-age=315360000" in watch.responses[site_css].headers["cache-control"]
    assert_loaded_cleanly(page, watch)

    page.goto(f"{url}/projects/{production_server.project_id}/")
    page.locator(".tile").first.wait_for()
    assert page.locator("input[name=name][value=mug]").count() == 1
    assert "/static/projects/project." in " ".join(
        page.evaluate("[...document.scripts].map(s => s.src)")
    )
    assert_loaded_cleanly(page, watch)


def test_the_annotator_runs_its_decoder_under_the_content_security_policy(
    production_server: ProductionServer, watched_page: tuple[Any, PageWatch]
) -> None:
    page, watch = watched_page
    url = production_server.url
    sign_in(page, url)

    page.goto(
        f"{url}/projects/{production_server.project_id}/images/{production_server.image_id}"
        "/annotate/"
    )
    try:
        page.wait_for_function(
            "() => document.getElementById('annotator-status').textContent.startsWith('Ready')",
            timeout=60_000,
        )
    except PlaywrightTimeout:
        status = page.locator("#annotator-status").text_content()
        pytest.fail(f"the annotator did not start: {status!r}; console: {watch.problems}")

    status = page.locator("#annotator-status").text_content()
    # Two threads: the page is cross-origin isolated and onnxruntime-web's thread
    # workers started.
    assert "2 threads" in status, status
    policy = watch.responses[page.url].headers["content-security-policy"]
    assert "'wasm-unsafe-eval'" in policy and "'unsafe-inline'" not in policy
    wasm = [r for u, r in watch.responses.items() if u.endswith(".wasm")]
    assert wasm and all(r.headers["content-type"] == "application/wasm" for r in wasm)
    # The inline style block applied: the page is dark.
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(29, 31, 33)"
    assert_loaded_cleanly(page, watch)


def test_the_api_docs_and_the_admin_render_under_the_content_security_policy(
    production_server: ProductionServer, watched_page: tuple[Any, PageWatch]
) -> None:
    page, watch = watched_page
    url = production_server.url
    sign_in(page, url)

    page.goto(f"{url}/api/docs/")
    page.locator(".opblock").first.wait_for(timeout=30_000)
    assert page.locator(".opblock").count() > 10
    assert_loaded_cleanly(page, watch)

    page.goto(f"{url}/admin/")
    assert page.locator("#site-name").count() == 1
    assert_loaded_cleanly(page, watch)
