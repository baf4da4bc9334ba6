"""Hostile zip archives are refused with a 400 that names the member, before anything is
decompressed or stored."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.webapp.factories_images import small_png, stored_files
from tests.webapp.factories_imports import (
    annotation,
    coco_document,
    post_import,
    problem_records,
    zip_bytes,
    zip_file,
)
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


@pytest.fixture
def project(make_project, media_root: Path) -> Project:
    return make_project(name="Archives")


@pytest.fixture
def owner(project: Project, user_in, api_client):
    return api_client(user_in(project, "owner"))


def coco_members(file_name: str = "photo.png") -> dict[str, bytes]:
    document = coco_document([annotation()], images=[{"id": 1, "file_name": file_name}])
    return {"annotations.json": json.dumps(document).encode(), "photo.png": small_png()}


def archive_with(entry: zipfile.ZipInfo, content: bytes) -> bytes:
    """A valid COCO archive plus one extra member described by ``entry``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, member in coco_members().items():
            archive.writestr(name, member)
        archive.writestr(entry, content)
    return out.getvalue()


def symlink(name: str) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name)
    entry.external_attr = (0o120777 << 16) | 0
    entry.create_system = 3  # Unix, so that the mode bits mean what they say
    return entry


HOSTILE = {
    "dot-dot path": (zipfile.ZipInfo("../evil.jpg"), small_png(), "'..'"),
    "nested dot-dot path": (zipfile.ZipInfo("images/../../evil.jpg"), small_png(), "'..'"),
    "absolute path": (zipfile.ZipInfo("/abs.jpg"), small_png(), "absolute path"),
    "windows drive path": (zipfile.ZipInfo("C:/abs.jpg"), small_png(), "absolute path"),
    "symbolic link": (symlink("link.jpg"), b"/etc/passwd", "symbolic link"),
}


@pytest.mark.parametrize(("entry", "content", "message"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_member_is_refused_and_nothing_is_stored(
    owner, project: Project, media_root: Path, entry, content, message
) -> None:
    response = post_import(owner, project, zip_file(archive_with(entry, content)))

    assert response.status_code == 400
    (problem,) = response.json()["problems"]
    assert problem["record"] == entry.filename
    assert message in problem["problem"]
    assert not Image.objects.exists() and not Annotation.objects.exists()
    assert stored_files(media_root) == []


def test_a_zip_bomb_is_refused_before_it_is_decompressed(owner, project: Project) -> None:
    entry = zipfile.ZipInfo("padding.json")
    entry.compress_type = zipfile.ZIP_DEFLATED
    response = post_import(owner, project, zip_file(archive_with(entry, b"\0" * 64 * 1024**2)))

    assert response.status_code == 400
    (problem,) = response.json()["problems"]
    assert problem["record"] == "padding.json"
    assert "decompression bomb" in problem["problem"]


def test_an_archive_over_the_size_limit_is_refused(owner, project: Project, settings) -> None:
    settings.SAMLABEL_MAX_IMPORT_BYTES = 1000
    response = post_import(owner, project, zip_file(zip_bytes(coco_members())))
    assert response.status_code == 400
    assert "over the limit of 1,000" in response.json()["problems"][0]["problem"]
    assert not Image.objects.exists()


def test_an_archive_with_too_many_members_is_refused(owner, project: Project, settings) -> None:
    settings.SAMLABEL_MAX_IMPORT_MEMBERS = 3
    members = {**coco_members(), "a.txt": b"a", "b.txt": b"b"}
    response = post_import(owner, project, zip_file(zip_bytes(members)))
    assert response.status_code == 400
    assert "4 members, over the limit of 3" in response.json()["problems"][0]["problem"]


def test_an_html_page_named_as_an_image_is_refused(owner, project: Project, media_root) -> None:
    members = {**coco_members("page.jpg"), "page.jpg": HTML}
    response = post_import(owner, project, zip_file(zip_bytes(members)))

    assert response.status_code == 400
    assert problem_records(response) == {"images[0]", "annotations[0]"}
    (problem,) = [p for p in response.json()["problems"] if p["record"] == "images[0]"]
    assert "page.jpg: not an image" in problem["problem"]
    assert not Image.objects.exists()
    assert stored_files(media_root) == []


def test_a_file_that_is_not_a_zip_is_refused(owner, project: Project) -> None:
    response = post_import(owner, project, zip_file(b"PK\x03\x04 but not really"))
    assert response.status_code == 400
    assert "not a readable zip archive" in response.json()["problems"][0]["problem"]


def test_a_file_of_another_kind_is_refused(owner, project: Project) -> None:
    response = post_import(owner, project, zip_file(small_png(), name="photo.png"))
    assert response.status_code == 400
    assert response.json()["problems"][0]["problem"] == "send a .json or a .zip file"
