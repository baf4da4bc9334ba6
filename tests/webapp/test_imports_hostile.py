"""Hostile dataset files end as a refused import with a readable reason: a 400 when the
import runs in the request, a failed import when a worker runs it; never a 500, a stuck
job, or a reply that echoes a document whole.

The damaged archives are made here: a valid zip, then bytes patched at the offsets its
own directory gives (the data of a member, the name in its local header).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tests.webapp.factories_images import small_png
from tests.webapp.factories_imports import (
    annotation,
    coco_document,
    json_file,
    post_import,
    store_image,
    zip_file,
)
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.imports import services
from webapp.imports.models import DatasetImport
from webapp.imports.problems import MAX_PROBLEM_CHARS, MAX_PROBLEMS
from webapp.imports.tasks import run_dataset_import
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(make_project: Any, media_root: Path) -> Project:
    return make_project(name="Hostile imports")


@pytest.fixture
def owner(project: Project, user_in: Any, api_client: Any) -> Any:
    return api_client(user_in(project, "owner"))


@pytest.fixture
def store_photo(project: Project) -> None:
    """photo.png in the project, for COCO files sent without their images."""
    store_image(project)


def coco_json(**fields: Any) -> bytes:
    document = coco_document([annotation(**fields)], images=[{"id": 1, "file_name": "photo.png"}])
    return json.dumps(document).encode()


def archive(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as written:
        for name, content in members.items():
            written.writestr(name, content)
    return out.getvalue()


def data_offset(content: bytes, name: str) -> int:
    """Where member ``name``'s (compressed) data starts in the zip ``content``."""
    info = zipfile.ZipFile(io.BytesIO(content)).getinfo(name)
    start = info.header_offset
    name_length = int.from_bytes(content[start + 26 : start + 28], "little")
    extra_length = int.from_bytes(content[start + 28 : start + 30], "little")
    return start + 30 + name_length + extra_length


def patched(content: bytes, at: int, replacement: bytes) -> bytes:
    return content[:at] + replacement + content[at + len(replacement) :]


def coco_members() -> dict[str, bytes]:
    return {"annotations.json": coco_json(), "photo.png": small_png()}


def crc_error() -> bytes:
    """The JSON stored uncompressed with one letter changed: its CRC no longer matches."""
    content = archive(coco_members(), zipfile.ZIP_STORED)
    at = content.index(b'"cat"', data_offset(content, "annotations.json"))
    return patched(content, at + 1, b"b")


def name_mismatch() -> bytes:
    """The local header of photo.png names phot0.png; the central directory photo.png."""
    content = archive(coco_members())
    info = zipfile.ZipFile(io.BytesIO(content)).getinfo("photo.png")
    return patched(content, info.header_offset + 30, b"phot0.png")


def corrupt_deflate() -> bytes:
    """The JSON's deflate stream starts with a block of the reserved type 3."""
    content = archive(coco_members())
    return patched(content, data_offset(content, "annotations.json"), b"\xff\xff\xff\xff")


def unknown_compression() -> bytes:
    """photo.png claims compression method 9 (deflate64), which zipfile cannot read."""
    content = bytearray(archive(coco_members()))
    info = zipfile.ZipFile(io.BytesIO(bytes(content))).getinfo("photo.png")
    content[info.header_offset + 8 : info.header_offset + 10] = (9).to_bytes(2, "little")
    entry = content.rindex(b"PK\x01\x02")  # photo.png's entry, the last of the directory
    content[entry + 10 : entry + 12] = (9).to_bytes(2, "little")
    return bytes(content)


@pytest.mark.parametrize(
    ("damaged", "member", "reason"),
    [
        (crc_error, "annotations.json", "CRC"),
        (name_mismatch, "photo.png", "differ"),
        (corrupt_deflate, "annotations.json", "damaged"),
        (unknown_compression, "photo.png", "method 9"),
    ],
    ids=["crc", "name mismatch", "corrupt deflate", "unknown compression"],
)
def test_a_damaged_archive_is_refused_naming_its_member(
    owner: Any, project: Project, damaged: Any, member: str, reason: str
) -> None:
    response = post_import(owner, project, zip_file(damaged()))

    assert response.status_code == 400, response.content[:500]
    body = response.json()
    assert body["status"] == "failed"
    assert [p["record"] for p in body["problems"]] == [member]
    assert reason in body["problems"][0]["problem"]
    assert not Image.objects.exists() and not Annotation.objects.exists()


def test_a_damaged_archive_run_by_a_worker_fails_with_its_reason(
    owner: Any, project: Project, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        mock.patch.object(services, "RUN_IN_REQUEST_UP_TO_BYTES", 0),
        mock.patch("webapp.imports.tasks.run_dataset_import.delay"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post_import(owner, project, zip_file(corrupt_deflate()))
    assert response.status_code == 202, response.json()

    run_dataset_import(response.json()["id"])

    status = owner.get(response.json()["url"]).json()
    assert status["status"] == "failed"
    assert status["problems"][0]["record"] == "annotations.json"
    assert "damaged" in status["problems"][0]["problem"]
    assert not DatasetImport.objects.get().file  # the upload is gone


# Each level names the one above nine times: a few hundred bytes, 9**6 strings.
ALIAS_BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{level}: &{level} [{','.join([f'*{previous}'] * 9)}]"
            for previous, level in zip("abcde", "bcdef", strict=True)
        ),
        "names: [*f]",
    ]
)


def yolo(data_yaml: str) -> bytes:
    return archive({"data.yaml": data_yaml.encode(), "images/a.png": small_png()})


def test_yaml_aliases_are_refused_without_expanding_them(owner: Any, project: Project) -> None:
    assert len(ALIAS_BOMB) < 500

    response = post_import(owner, project, zip_file(yolo(ALIAS_BOMB)), format="yolo")

    assert response.status_code == 400
    assert len(response.content) < 2000
    (problem,) = response.json()["problems"]
    assert problem["record"] == "data.yaml"
    assert "aliases" in problem["problem"]


@pytest.mark.parametrize(
    "data_yaml",
    [
        "names: " + "[" * 5000 + "]" * 5000,
        "names:\n" + "".join(" " * n + "- \n" for n in range(0, 2000, 2)),
        "names: {0: " + "{a: " * 3000 + "1" + "}" * 3001,
    ],
    ids=["flow lists", "block lists", "flow mappings"],
)
def test_deeply_nested_yaml_is_refused(owner: Any, project: Project, data_yaml: str) -> None:
    response = post_import(owner, project, zip_file(yolo(data_yaml)), format="yolo")

    assert response.status_code == 400, response.content[:500]
    (problem,) = response.json()["problems"]
    assert problem["record"] == "data.yaml"
    assert "nests deeper" in problem["problem"]


def test_a_yaml_integer_of_thousands_of_digits_is_refused(owner: Any, project: Project) -> None:
    response = post_import(
        owner, project, zip_file(yolo("nc: " + "1" * 5000 + "\nnames: [cat]")), format="yolo"
    )

    assert response.status_code == 400, response.content[:500]
    assert response.json()["problems"][0]["record"] == "data.yaml"


def test_quoted_values_are_cut_short_in_problems(owner: Any, project: Project) -> None:
    names = "names: [[" + ", ".join(["a" * 1000] * 1000) + "]]"

    response = post_import(owner, project, zip_file(yolo(names)), format="yolo")

    assert response.status_code == 400
    (problem,) = response.json()["problems"]
    assert "is not id: name" in problem["problem"]
    assert len(problem["problem"]) <= MAX_PROBLEM_CHARS
    assert len(response.content) < 2000


def test_a_refusal_lists_at_most_a_thousand_problems(owner: Any, project: Project) -> None:
    annotations = [annotation(n, category_id=99) for n in range(1, 3001)]
    document = coco_document(annotations, images=[{"id": 1, "file_name": "photo.png"}])
    members = {"annotations.json": json.dumps(document).encode(), "photo.png": small_png()}

    response = post_import(owner, project, zip_file(archive(members)))

    assert response.status_code == 400
    problems = response.json()["problems"]
    assert len(problems) == MAX_PROBLEMS
    assert problems[-1]["problem"] == "and 2,001 more problems not listed"


DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_SEGMENTATION = coco_json(segmentation="@").replace(b'"@"', b"[" * 5000 + b"]" * 5000)


@pytest.mark.parametrize("text", [DEEP_JSON.encode(), DEEP_SEGMENTATION], ids=["bare", "inside"])
def test_json_nested_thousands_deep_is_refused(
    owner: Any, project: Project, text: bytes, store_photo: None
) -> None:
    for upload in (
        json_file(text.decode()),
        zip_file(archive({"annotations.json": text, "photo.png": small_png()})),
    ):
        response = post_import(owner, project, upload)

        assert response.status_code == 400, response.content[:500]
        (problem,) = response.json()["problems"]
        assert problem["record"] == "annotations.json"
        assert "nests too deeply" in problem["problem"]


def test_a_coordinate_no_float_holds_is_refused(
    owner: Any, project: Project, store_photo: None
) -> None:
    huge = "1" + "0" * 400
    text = coco_json(segmentation="@").replace(b'"@"', f"[[{huge}, 1, 5, 1, 5, 5]]".encode())
    for upload in (
        json_file(text.decode()),
        zip_file(archive({"annotations.json": text, "photo.png": small_png()})),
    ):
        response = post_import(owner, project, upload)

        assert response.status_code == 400, response.content[:500]
        (problem,) = response.json()["problems"]
        assert (problem["record"], problem["field"]) == ("annotations[0]", "segmentation")
        assert "not a finite number" in problem["problem"]


def test_a_json_document_over_its_own_limit_is_refused_unread(
    owner: Any, project: Project, settings: Any
) -> None:
    settings.SAMLABEL_MAX_IMPORT_JSON_BYTES = 1000
    padding = {"info": {"description": "x" * 2000}}
    document = {**json.loads(coco_json()), **padding}
    text = json.dumps(document)

    response = post_import(owner, project, json_file(text))
    assert response.status_code == 400
    (problem,) = response.json()["problems"]
    assert problem["record"] == "annotations.json"
    assert "over the limit of 1,000" in problem["problem"]

    upload = zip_file(archive({"annotations.json": text.encode(), "photo.png": small_png()}))
    with mock.patch("zipfile.ZipFile.open", side_effect=AssertionError("a member was read")):
        response = post_import(owner, project, upload)
    assert response.status_code == 400
    assert "SAMLABEL_MAX_IMPORT_JSON_BYTES" in response.json()["problems"][0]["problem"]


def test_a_json_document_under_the_limit_is_still_imported(
    owner: Any, project: Project, settings: Any, store_photo: None
) -> None:
    text = coco_json()
    settings.SAMLABEL_MAX_IMPORT_JSON_BYTES = len(text)

    response = post_import(owner, project, json_file(text.decode()))

    assert response.status_code == 201, response.json()
    assert Annotation.objects.count() == 1
