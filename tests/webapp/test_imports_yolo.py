"""Importing a YOLO segmentation archive: data.yaml names, labels/*.txt polygons in
fractions of the image size, and every bad line named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.webapp.factories_images import small_png, stored_files
from tests.webapp.factories_imports import (
    HEIGHT,
    WIDTH,
    box_mask,
    post_import,
    zip_bytes,
    zip_file,
)
from webapp.annotations import rle as rle_codec
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.projects.models import LabelClass, Project

pytestmark = pytest.mark.django_db

# A box from (4, 3) to (20, 15) pixels of a 40 x 30 image, as YOLO fractions.
BOX = "0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5"


@pytest.fixture
def project(make_project, media_root: Path) -> Project:
    return make_project(name="YOLO")


@pytest.fixture
def owner(project: Project, user_in, api_client):
    return api_client(user_in(project, "owner"))


def yolo_archive(labels: str, data_yaml: str = "names: [cat, dog]\n") -> bytes:
    return zip_bytes(
        {
            "data.yaml": data_yaml.encode(),
            "images/train/a.png": small_png(1),
            "labels/train/a.txt": labels.encode(),
            "images/train/b.png": small_png(2),  # no label file: an image without objects
        }
    )


@pytest.mark.parametrize(
    "data_yaml",
    ["names: [cat, dog]\n", "names:\n  0: cat\n  1: dog\n", "nc: 2\nnames: ['cat', 'dog']\n"],
)
def test_a_yolo_archive_is_imported_with_its_images_and_classes(
    owner, project: Project, data_yaml: str
) -> None:
    response = post_import(
        owner,
        project,
        zip_file(yolo_archive(f"0 {BOX}\n1 0.6 0.6 0.9 0.6 0.9 0.9\n", data_yaml)),
        format="yolo",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["result"] == {
        "images_created": 2,
        "images_matched": 0,
        "label_classes_created": 2,
        "annotations_created": 2,
    }
    image = Image.objects.get(project=project, original_name="a.png")
    cat, dog = Annotation.objects.filter(image=image).order_by("id")
    assert (cat.label_class.name, dog.label_class.name) == ("cat", "dog")
    mask = rle_codec.decode(cat.rle)
    assert mask.shape == (HEIGHT, WIDTH)
    assert np.array_equal(mask, box_mask(4, 3, 20, 15))  # corners (4, 3) to (20, 15)
    assert cat.bbox == [4, 3, 16, 12] and cat.area == 16 * 12
    assert set(LabelClass.objects.filter(project=project).values_list("name", flat=True)) == {
        "cat",
        "dog",
    }


BAD_LINES = {
    "coordinate outside [0, 1]": ("0 0.1 0.1 1.5 0.1 0.5 0.5", "points", "outside [0, 1]"),
    "odd number of coordinates": ("0 0.1 0.1 0.5 0.1 0.5", "points", "odd number"),
    "two points": ("0 0.1 0.1 0.5 0.5", "points", "at least 3"),
    "unknown class": (f"5 {BOX}", "class", "no class 5"),
    "not numbers": ("cat 0.1 0.1", "line", "expected: class x1 y1"),
}


@pytest.mark.parametrize(("line", "field", "message"), BAD_LINES.values(), ids=BAD_LINES.keys())
def test_each_bad_label_line_is_named_and_nothing_is_stored(
    owner, project: Project, media_root: Path, line: str, field: str, message: str
) -> None:
    response = post_import(
        owner, project, zip_file(yolo_archive(f"0 {BOX}\n{line}\n")), format="yolo"
    )

    assert response.status_code == 400
    (problem,) = response.json()["problems"]
    assert problem["record"] == "labels/train/a.txt:2"
    assert problem["field"] == field
    assert message in problem["problem"]
    assert not Image.objects.exists() and not LabelClass.objects.exists()
    assert stored_files(media_root) == []


def test_an_archive_without_data_yaml_is_refused(owner, project: Project) -> None:
    archive = zip_bytes({"images/a.png": small_png(), "labels/a.txt": f"0 {BOX}".encode()})
    response = post_import(owner, project, zip_file(archive), format="yolo")
    assert response.status_code == 400
    assert response.json()["problems"][0]["field"] == "data.yaml"


def test_a_label_file_without_an_image_is_named(owner, project: Project) -> None:
    archive = zip_bytes({"data.yaml": b"names: [cat]", "labels/lost.txt": f"0 {BOX}".encode()})
    response = post_import(owner, project, zip_file(archive), format="yolo")
    assert response.status_code == 400
    assert response.json()["problems"][0]["record"] == "labels/lost.txt"


def test_a_yolo_dataset_must_be_an_archive(owner, project: Project) -> None:
    from tests.webapp.factories_imports import json_file

    response = post_import(owner, project, json_file("{}"), format="yolo")
    assert response.status_code == 400
    assert "must be sent as a .zip" in response.json()["problems"][0]["problem"]


def test_a_class_name_with_a_line_break_is_refused(owner, project: Project) -> None:
    response = post_import(
        owner,
        project,
        zip_file(yolo_archive(f"0 {BOX}\n", data_yaml='names: ["cat\\ndog", "bird"]\n')),
        format="yolo",
    )

    assert response.status_code == 400
    (problem,) = response.json()["problems"]
    assert problem["field"] == "names"
    assert "cannot hold control characters or line breaks" in problem["problem"]
    assert not LabelClass.objects.filter(project=project).exists()
    assert not Image.objects.exists()
