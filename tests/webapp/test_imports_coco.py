"""Importing COCO instance segmentation: what is stored, every bad record named, and that
a refused import stores nothing at all."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from pycocotools import mask as coco_mask

from tests.webapp.factories_images import small_png, stored_files
from tests.webapp.factories_imports import (
    HEIGHT,
    WIDTH,
    annotation,
    box_mask,
    coco_document,
    coco_rle,
    json_file,
    post_import,
    problem_records,
    store_image,
    zip_bytes,
    zip_file,
)
from webapp.annotations import rle as rle_codec
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.projects.models import LabelClass, Project

pytestmark = pytest.mark.django_db

# Pixels 5..24 square with a hole of pixels 10..19, traced along pixel edges as one ring
# with a cut to the hole (COCO polygons are unioned ring by ring, so a hole needs a cut).
KEYHOLE = [5, 5, 25, 5, 25, 25, 5, 25, 5, 10, 10, 10, 10, 20, 20, 20, 20, 10, 5, 10]


@pytest.fixture
def project(make_project, media_root: Path) -> Project:
    return make_project(name="Imports")


@pytest.fixture
def owner(project: Project, user_in, api_client):
    return api_client(user_in(project, "owner"))


def test_a_coco_file_round_trips_rle_and_polygons_with_a_hole(owner, project: Project) -> None:
    image = store_image(project, "photo.png")
    LabelClass.objects.create(project=project, name="dog")
    compressed = box_mask(2, 3, 12, 9)
    uncompressed = box_mask(30, 0, 40, 30)
    document = coco_document(
        [
            annotation(1, segmentation=coco_rle(compressed)),
            annotation(2, category_id=8, segmentation=coco_rle(uncompressed, compressed=False)),
            annotation(3, segmentation=[KEYHOLE]),
        ],
        images=[{"id": 1, "file_name": "some/folder/photo.png", "width": WIDTH, "height": HEIGHT}],
    )

    response = post_import(owner, project, json_file(document))

    assert response.status_code == 201, response.json()
    assert response.json()["result"] == {
        "images_created": 0,
        "images_matched": 1,
        "label_classes_created": 1,
        "annotations_created": 3,
    }
    stored = list(Annotation.objects.filter(image=image).order_by("id"))
    assert [a.label_class.name for a in stored] == ["cat", "dog", "cat"]
    assert np.array_equal(rle_codec.decode(stored[0].rle), compressed)
    assert np.array_equal(rle_codec.decode(stored[1].rle), uncompressed)
    assert stored[0].area == 60 and stored[0].bbox == [2, 3, 10, 6]  # derived, not the file's
    with_hole = box_mask(5, 5, 25, 25) & ~box_mask(10, 10, 20, 20)
    assert np.array_equal(rle_codec.decode(stored[2].rle), with_hole)
    assert LabelClass.objects.filter(project=project).count() == 2


def test_a_coco_archive_creates_its_images_and_reuses_one_already_there(
    owner, project: Project
) -> None:
    existing = store_image(project, "old-name.png", seed=1)
    document = coco_document(
        [annotation(1, image_id=1), annotation(2, image_id=2)],
        images=[
            {"id": 1, "file_name": "images/new.png", "width": WIDTH, "height": HEIGHT},
            {"id": 2, "file_name": "images/same-pixels.png"},
        ],
    )
    archive = zip_bytes(
        {
            "dataset/annotations.json": json.dumps(document).encode(),
            "dataset/images/new.png": small_png(2),
            "dataset/images/same-pixels.png": small_png(1),
        }
    )

    response = post_import(owner, project, zip_file(archive))

    assert response.status_code == 201, response.json()
    assert response.json()["result"]["images_created"] == 1
    assert response.json()["result"]["images_matched"] == 1
    new = Image.objects.get(project=project, original_name="new.png")
    assert (new.width, new.height) == (WIDTH, HEIGHT)
    assert Annotation.objects.filter(image=existing).count() == 1
    assert Annotation.objects.filter(image=new).count() == 1


@pytest.mark.parametrize(
    ("rings", "pixels_apart"),
    [
        ([KEYHOLE], 0),
        ([[5, 5, 25, 5, 25, 25, 5, 25], [10, 10, 20, 10, 20, 20, 10, 20]], 0),
        ([[0.5, 0.5, 30.2, 3.7, 12.9, 28.1], [25, 2, 39.3, 2, 39.3, 29.2, 25, 29.2]], 8),
    ],
    ids=["keyhole", "nested rings are a union", "overlapping fractional rings"],
)
def test_polygons_become_the_pixels_pycocotools_gives_them(
    owner, project: Project, rings: list[list[float]], pixels_apart: int
) -> None:
    """Rings on pixel edges give exactly pycocotools' pixels; elsewhere the two
    rasterisers may disagree on a few pixels whose centres lie near the outline."""
    image = store_image(project, "photo.png")
    document = coco_document([annotation(segmentation=rings)])
    response = post_import(owner, project, json_file(document))
    assert response.status_code == 201, response.json()
    expected = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(rings, HEIGHT, WIDTH)))
    stored = rle_codec.decode(Annotation.objects.get(image=image).rle)
    assert np.count_nonzero(stored != expected.astype(bool)) <= pixels_apart


def test_refusing_to_create_classes_names_the_missing_category(owner, project: Project) -> None:
    store_image(project, "photo.png")
    response = post_import(
        owner,
        project,
        json_file(coco_document([annotation()])),
        create_missing_classes="false",
    )
    assert response.status_code == 400
    assert response.json()["problems"] == [
        {
            "record": "categories[0]",
            "field": "name",
            "problem": "the project has no label class named 'cat' (and creating classes is off)",
        }
    ]


NAN_POLYGON = '{"images": [{"id": 1, "file_name": "photo.png"}], "categories": [{"id": 7, \
"name": "cat"}], "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "segmentation": \
[[1, 1, 10, 1, 10, 10]]}, {"id": 2, "image_id": 1, "category_id": 7, "segmentation": \
[[1, 1, NaN, 1, 10, 10]]}, {"id": 3, "image_id": 1, "category_id": 7, "segmentation": \
[[1, 1, Infinity, 1, 10, 10]]}]}'

BAD_INPUTS = {
    "malformed JSON": ('{"images": [', "annotations.json", "file", "not valid JSON"),
    "RLE of another size": (
        coco_document([annotation(1), annotation(2, segmentation=coco_rle(np.ones((10, 10))))]),
        "annotations[1]",
        "segmentation",
        "RLE size [10, 10] is not the image's size [30, 40]",
    ),
    "polygon of two points": (
        coco_document([annotation(1), annotation(2, segmentation=[[1, 1, 5, 5]])]),
        "annotations[1]",
        "segmentation",
        "it needs at least 3",
    ),
    "polygon with NaN": (NAN_POLYGON, "annotations[1]", "segmentation", "not a finite number"),
    "polygon with infinity": (NAN_POLYGON, "annotations[2]", "segmentation", "not a finite"),
    "unknown category": (
        coco_document([annotation(1), annotation(2, category_id=99)]),
        "annotations[1]",
        "category_id",
        "no category with id 99",
    ),
    "image not in the file": (
        coco_document([annotation(1), annotation(2, image_id=5)]),
        "annotations[1]",
        "image_id",
        "no image with id 5",
    ),
    "image not in the project": (
        coco_document(
            [annotation(1), annotation(2, image_id=2)],
            images=[
                {"id": 1, "file_name": "photo.png"},
                {"id": 2, "file_name": "elsewhere.png"},
            ],
        ),
        "images[1]",
        "file_name",
        "no image named 'elsewhere.png' in the project",
    ),
    "declared size differs from the image's": (
        coco_document([annotation(1)], images=[{"id": 1, "file_name": "photo.png", "width": 64}]),
        "images[0]",
        "width",
        "width 64 is not the image's width 40",
    ),
}


@pytest.mark.parametrize(
    ("document", "record", "field", "message"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys()
)
def test_each_bad_record_is_named_and_nothing_is_stored(
    owner, project: Project, media_root: Path, document, record, field, message
) -> None:
    store_image(project, "photo.png")
    files_before = stored_files(media_root)

    response = post_import(owner, project, json_file(document))

    assert response.status_code == 400
    problems = [p for p in response.json()["problems"] if p["record"] == record]
    assert problems, response.json()
    assert problems[0]["field"] == field
    assert message in problems[0]["problem"]
    assert not Annotation.objects.exists()
    assert not LabelClass.objects.exists()
    assert Image.objects.count() == 1
    assert stored_files(media_root) == files_before


def test_an_annotation_on_a_missing_image_names_the_annotation_too(owner, project: Project) -> None:
    document = coco_document([annotation(1)], images=[{"id": 1, "file_name": "gone.png"}])
    response = post_import(owner, project, json_file(document))
    assert response.status_code == 400
    assert problem_records(response) == {"images[0]", "annotations[0]"}


def test_an_archive_with_a_bad_annotation_stores_none_of_its_images(
    owner, project: Project, media_root: Path
) -> None:
    document = coco_document(
        [annotation(1), annotation(2, category_id=3)],
        images=[{"id": 1, "file_name": "photo.png"}],
    )
    archive = zip_bytes(
        {"annotations.json": json.dumps(document).encode(), "photo.png": small_png()}
    )

    response = post_import(owner, project, zip_file(archive))

    assert response.status_code == 400
    assert problem_records(response) == {"annotations[1]"}
    assert not Image.objects.exists()
    assert stored_files(media_root) == []


def test_a_failure_while_storing_removes_the_files_already_stored(
    owner, project: Project, media_root: Path, monkeypatch
) -> None:
    def database_down(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Annotation.objects, "bulk_create", database_down)
    document = coco_document([annotation(1)], images=[{"id": 1, "file_name": "photo.png"}])
    archive = zip_bytes(
        {"annotations.json": json.dumps(document).encode(), "photo.png": small_png()}
    )

    response = post_import(owner, project, zip_file(archive))

    assert response.status_code == 500
    assert response.json()["status"] == "failed"
    assert "failed unexpectedly" in response.json()["problems"][0]["problem"]
    assert not Image.objects.exists()
    assert not LabelClass.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("owner", 201),
        ("manager", 201),
        ("reviewer", 403),
        ("annotator", 403),
        ("viewer", 403),
        ("outsider", 404),
    ],
)
def test_only_managers_and_owners_may_import(
    project: Project, user_in, api_client, role: str, status: int
) -> None:
    store_image(project, "photo.png")
    client = api_client(user_in(project, role))
    response = post_import(client, project, json_file(coco_document([annotation()])))
    assert response.status_code == status
    assert Annotation.objects.count() == (1 if status == 201 else 0)


def test_an_anonymous_import_is_refused(project: Project, api_client) -> None:
    response = post_import(api_client(None), project, json_file(coco_document([annotation()])))
    assert response.status_code in (401, 403)
    assert not Annotation.objects.exists()


def test_the_command_imports_a_file_and_reports_problems(
    project: Project, tmp_path: Path, capsys
) -> None:
    store_image(project, "photo.png")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(coco_document([annotation()])))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(coco_document([annotation(category_id=99)])))

    with pytest.raises(CommandError, match="nothing imported: 1 problem"):
        call_command("import_dataset", str(project.pk), str(bad), "--format", "coco")
    assert "annotations[0]" in capsys.readouterr().err
    call_command("import_dataset", str(project.pk), str(good), "--format", "coco")

    assert json.loads(capsys.readouterr().out)["annotations_created"] == 1
    assert Annotation.objects.filter(image__project=project).count() == 1


def test_a_category_name_with_a_line_break_is_refused(owner, project: Project) -> None:
    store_image(project, "photo.png")
    document = coco_document(
        [annotation()], categories=[{"id": 7, "name": "cat\ndog"}, {"id": 8, "name": "dog"}]
    )

    response = post_import(owner, project, json_file(document))

    assert response.status_code == 400
    assert {
        "record": "categories[0]",
        "field": "name",
        "problem": "a label class name cannot hold control characters or line breaks",
    } in response.json()["problems"]
    assert not project.label_classes.exists()
