"""Oversized request bodies are refused (413) before they are read: an anonymous
gigabyte sent to the token endpoint or the sign-in page costs the server no temporary
file and no memory; signed-in people keep their larger limit, so uploads still work.

The bodies are produced lazily by a stream that counts what the server reads of it,
and go through the WSGI request a real server would make of them."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import RequestFactory
from django.test.client import ClientHandler
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.webapp.conftest import MakeProject, MakeUser
from tests.webapp.factories_images import small_png, upload
from webapp.images.models import Image

GIB = 1024**3
BOUNDARY = "samlabelboundary"


class LazyBody(io.RawIOBase):
    """``size`` bytes of a multipart body (or of anything), made as they are read; counts
    how many were."""

    def __init__(self, size: int, head: bytes = b"") -> None:
        self.size, self.head, self.read_bytes = size, head, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        if n <= 0:
            return 0
        start = self.read_bytes
        chunk = (self.head[start : start + n] if start < len(self.head) else b"").ljust(n, b"x")
        buffer[:n] = chunk
        self.read_bytes += n
        return n


def multipart_head(field: str = "file") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="username"\r\n\r\nann\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
        'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()


def send(
    path: str, body: LazyBody, content_type: str, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """POST ``body`` to ``path`` as a WSGI server would; (status, headers, content)."""
    environ = RequestFactory()._base_environ(
        PATH_INFO=path,
        REQUEST_METHOD="POST",
        CONTENT_TYPE=content_type,
        CONTENT_LENGTH=str(body.size),
        **{"wsgi.input": io.BufferedReader(body, buffer_size=64 * 1024)},
        **headers,
    )
    # The test client's handler, which builds the same WSGIRequest as a server's, with
    # CSRF checks on and the test's database connection kept open.
    response = ClientHandler(enforce_csrf_checks=True)(environ)
    return response.status_code, dict(response.headers), response.content


@pytest.fixture
def temp_dir(settings: Any, tmp_path: Path) -> Path:
    """Where Django spools uploads to disk for this test."""
    folder = tmp_path / "spool"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def spooled_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


@pytest.fixture
def spool_watch(temp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The largest size any temporary upload file reached (files are deleted after the
    request, so their size is noted as they are written)."""
    from django.core.files import uploadedfile

    largest = [0]
    original = uploadedfile.TemporaryUploadedFile.__init__

    def watched(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        write = self.file.write

        def counting(data: bytes) -> int:
            written = write(data)
            largest[0] = max(largest[0], self.file.tell())
            return int(written)

        self.file.write = counting

    monkeypatch.setattr(uploadedfile.TemporaryUploadedFile, "__init__", watched)
    yield largest


@pytest.mark.django_db
def test_an_anonymous_gigabyte_to_the_token_endpoint_is_refused_unread(
    spool_watch: list[int], temp_dir: Path
) -> None:
    body = LazyBody(GIB, multipart_head())

    status, headers, content = send(
        "/api/auth/token/", body, f"multipart/form-data; boundary={BOUNDARY}"
    )

    assert status == 413
    assert headers["Content-Type"] == "application/json"
    assert b"The request body is 1,024.0 MiB; this server accepts at most 65,536 bytes" in content
    assert b"from someone who is not signed in" in content
    assert body.read_bytes == 0
    assert spool_watch[0] == 0
    assert spooled_bytes(temp_dir) == 0


@pytest.mark.django_db
def test_an_anonymous_json_body_too_large_is_refused_unread() -> None:
    body = LazyBody(256 * 1024**2, b'{"username": "ann", "password": "')

    status, _, content = send("/api/auth/token/", body, "application/json")

    assert status == 413
    assert b"The request body is 256.0 MiB" in content
    assert body.read_bytes == 0


@pytest.mark.django_db
def test_an_anonymous_upload_to_the_sign_in_page_is_refused_unread(
    spool_watch: list[int],
) -> None:
    body = LazyBody(64 * 1024**2, multipart_head())

    # With a CSRF cookie, Django's CSRF check reads the form, so it would spool the body.
    status, headers, content = send(
        "/accounts/login/",
        body,
        f"multipart/form-data; boundary={BOUNDARY}",
        HTTP_COOKIE="csrftoken=" + "a" * 32,
    )

    assert status == 413
    assert headers["Content-Type"].startswith("text/plain")
    assert b"from someone who is not signed in" in content
    assert body.read_bytes == 0
    assert spool_watch[0] == 0


@pytest.mark.django_db
def test_a_small_anonymous_form_is_still_read() -> None:
    body = LazyBody(200, b"username=ann&password=wrong&")

    status, _, content = send("/api/auth/token/", body, "application/x-www-form-urlencoded")

    assert status == 400
    assert b"Unable to log in" in content


@pytest.mark.django_db
def test_a_token_holder_may_send_more_than_an_anonymous_body_but_not_past_the_limit(
    make_user: MakeUser, make_project: MakeProject, settings: Any, spool_watch: list[int]
) -> None:
    settings.SAMLABEL_MAX_REQUEST_BYTES = 50 * 1024**2
    settings.SAMLABEL_MAX_UPLOAD_BYTES = 50 * 1024**2
    ann = make_user(username="ann")
    project = make_project(owner=ann)
    token = Token.objects.create(user=ann)
    url = reverse("image-list", kwargs={"project_pk": project.pk})

    too_large = LazyBody(GIB, multipart_head("files"))
    status, _, content = send(
        url, too_large, f"multipart/form-data; boundary={BOUNDARY}",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )  # fmt: skip
    assert status == 413
    assert b"this server accepts at most 50.0 MiB." in content
    assert too_large.read_bytes == 0

    forged = LazyBody(1024**2, multipart_head("files"))
    status, _, _ = send(
        url, forged, f"multipart/form-data; boundary={BOUNDARY}",
        HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567",
    )  # fmt: skip
    assert status == 413
    assert forged.read_bytes == 0
    assert spool_watch[0] == 0


@pytest.mark.django_db
def test_signed_in_uploads_of_many_images_still_work(
    make_project: MakeProject, make_user: MakeUser, api_client: Any, settings: Any, media_root: Path
) -> None:
    settings.SAMLABEL_MAX_ANONYMOUS_REQUEST_BYTES = 1024
    ann = make_user(username="ann")
    project = make_project(owner=ann)
    files = [
        upload(f"image{n}.png", small_png(seed=n, size=(300, 200)), "image/png") for n in range(20)
    ]

    response = api_client(ann).post(
        reverse("image-list", kwargs={"project_pk": project.pk}),
        {"files": files},
        format="multipart",
    )

    assert response.status_code == 201
    assert Image.objects.filter(project=project).count() == 20
