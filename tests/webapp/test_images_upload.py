"""Uploading: what is stored, what is refused with which message, and that a refused
file leaves nothing behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image as PILImage

from tests.webapp.factories_images import (
    astronaut_jpeg,
    bomb_png,
    rotated_jpeg,
    small_png,
    stored_files,
    upload,
)
from webapp.images.models import Image
from webapp.images.uploads import safe_original_name
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db

SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">' \
    b'<script>alert(1)</script></svg>'  # fmt: skip
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


@pytest.fixture
def project(make_project) -> Project:
    return make_project(name="Uploads")


@pytest.fixture
def owner(project: Project, user_in, api_client):
    return api_client(user_in(project, "owner"))


def post(client, project: Project, *files):
    return client.post(
        reverse("image-list", kwargs={"project_pk": project.pk}),
        {"files": list(files)} if files else {},
        format="multipart",
    )


def test_an_upload_is_stored_under_a_generated_name_with_a_thumbnail(
    owner, project: Project, media_root: Path
) -> None:
    response = post(owner, project, upload("holiday photo.jpg", astronaut_jpeg()))

    assert response.status_code == 201
    image = Image.objects.get()
    assert image.original_name == "holiday photo.jpg"
    assert "holiday" not in image.file.name
    assert image.file.name.startswith(f"images/{project.pk}/")
    assert image.file.name.endswith(".jpg")
    assert (media_root / image.file.name).read_bytes() == astronaut_jpeg()
    with PILImage.open(media_root / image.thumbnail.name) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert thumbnail.size == (256, 256)
    assert len(stored_files(media_root)) == 2


def test_width_and_height_are_as_the_user_sees_the_photo_after_exif_rotation(
    owner, project: Project, media_root: Path
) -> None:
    response = post(owner, project, upload("phone.jpg", rotated_jpeg()))

    image = response.json()["results"][0]["image"]
    assert (image["width"], image["height"]) == (20, 60)
    stored = Image.objects.get()
    assert (stored.width, stored.height) == (20, 60)
    with PILImage.open(stored.thumbnail.path) as thumbnail:
        assert thumbnail.size == (20, 60)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.jpg", b"these are my notes, not a picture\n" * 10, "not an image"),
        ("cut.jpg", astronaut_jpeg()[:600], "corrupt or truncated"),
        ("bomb.png", bomb_png(), "too large"),
        ("drawing.jpg", SVG, "not an image"),
        ("page.jpg", HTML, "not an image"),
        ("empty.jpg", b"", "empty"),
    ],
    ids=["non-image", "corrupt", "bomb", "svg", "html", "empty"],
)
def test_unusable_files_are_refused_with_a_reason_and_nothing_is_stored(
    owner, project: Project, media_root: Path, name: str, content: bytes, message: str
) -> None:
    response = post(owner, project, upload(name, content))

    assert response.status_code == 400
    body = response.json()
    assert body["rejected"] == 1
    (result,) = body["results"]
    assert result["result"] == "rejected"
    assert result["name"] == name
    assert message in result["reason"]
    assert not Image.objects.exists()
    assert stored_files(media_root) == []


def test_a_file_over_the_size_limit_is_refused_with_413(
    owner, project: Project, media_root: Path, settings
) -> None:
    settings.SAMLABEL_MAX_UPLOAD_BYTES = 1000

    response = post(owner, project, upload("big.png", small_png(1, (100, 100)), "image/png"))

    assert response.status_code == 413
    (result,) = response.json()["results"]
    assert "over the limit of 1,000 bytes" in result["reason"]
    assert not Image.objects.exists()
    assert stored_files(media_root) == []


def test_a_request_without_files_is_refused(owner, project: Project, media_root: Path) -> None:
    response = post(owner, project)

    assert response.status_code == 400
    assert "Choose one or more files" in str(response.json())


@pytest.mark.parametrize(
    ("sent_name", "kept_name"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("..\\..\\windows\\evil.png", "evil.png"),
        ("/absolute/path/cat.png", "cat.png"),
        ("..hidden..cat.png", "hiddencat.png"),
    ],
)
def test_names_with_folders_or_dot_dot_keep_only_a_safe_basename(
    owner, project: Project, media_root: Path, sent_name: str, kept_name: str
) -> None:
    response = post(owner, project, upload(sent_name, small_png(7), "image/png"))

    assert response.status_code == 201
    image = Image.objects.get()
    assert image.original_name == kept_name
    assert image.file.name.startswith(f"images/{project.pk}/")
    for path in stored_files(media_root):
        assert path.resolve().is_relative_to(media_root.resolve())
        assert re.fullmatch(r"[0-9a-f]{32}\.(png|jpg)", path.name)


@pytest.mark.parametrize(
    ("sent_name", "kept_name"),
    [("..", "image"), ("a/b/..", "image"), ("", "image"), ("x\x00y.png", "xy.png")],
)
def test_names_that_say_nothing_safe_become_image(sent_name: str, kept_name: str) -> None:
    # Django's test client refuses to send these names, so the rule is checked directly.
    assert safe_original_name(sent_name) == kept_name


def test_a_batch_stores_the_good_files_and_reports_each_bad_one(
    owner, project: Project, media_root: Path
) -> None:
    response = post(
        owner,
        project,
        upload("good.png", small_png(1), "image/png"),
        upload("bad.jpg", HTML),
        upload("good2.png", small_png(2), "image/png"),
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["created"], body["duplicate"], body["rejected"]) == (2, 0, 1)
    assert [r["result"] for r in body["results"]] == ["created", "rejected", "created"]
    assert sorted(Image.objects.values_list("original_name", flat=True)) == [
        "good.png",
        "good2.png",
    ]
    assert len(stored_files(media_root)) == 4  # two originals, two thumbnails


def test_a_duplicate_in_the_same_project_is_reported_and_not_stored_twice(
    owner, project: Project, media_root: Path
) -> None:
    first = post(owner, project, upload("a.png", small_png(3), "image/png")).json()

    again = post(owner, project, upload("copy of a.png", small_png(3), "image/png"))
    both = post(
        owner,
        project,
        upload("b.png", small_png(4), "image/png"),
        upload("b again.png", small_png(4), "image/png"),
    )

    assert again.status_code == 200
    (result,) = again.json()["results"]
    assert result == {
        "name": "copy of a.png",
        "result": "duplicate",
        "id": first["results"][0]["id"],
    }
    assert [r["result"] for r in both.json()["results"]] == ["created", "duplicate"]
    assert Image.objects.count() == 2
    assert len(stored_files(media_root)) == 4


def test_the_same_file_in_another_project_is_stored_there_too(
    owner, project: Project, media_root: Path, make_project, user_in, api_client
) -> None:
    other = make_project(name="Other")
    other_owner = api_client(user_in(other, "owner"))

    first = post(owner, project, upload("a.png", small_png(5), "image/png"))
    second = post(other_owner, other, upload("a.png", small_png(5), "image/png"))

    assert (first.status_code, second.status_code) == (201, 201)
    assert Image.objects.filter(project=project).count() == 1
    assert Image.objects.filter(project=other).count() == 1


def test_encoding_is_queued_once_the_upload_is_committed(
    owner, project: Project, media_root: Path, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from webapp.images import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.encode_image, "delay", lambda image_id: queued.append(image_id))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(owner, project, upload("a.png", small_png(6), "image/png"))

    assert len(callbacks) == 1
    assert queued == [response.json()["results"][0]["id"]]


def test_an_upload_succeeds_when_the_broker_cannot_be_reached(
    owner,
    project: Project,
    media_root: Path,
    monkeypatch,
    caplog,
    django_capture_on_commit_callbacks,
) -> None:
    from webapp.images import tasks

    def broker_down(image_id: int) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(tasks.encode_image, "delay", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        response = post(owner, project, upload("a.png", small_png(6), "image/png"))

    assert response.status_code == 201
    assert Image.objects.get().status == "pending"
    assert "could not queue image" in caplog.text
