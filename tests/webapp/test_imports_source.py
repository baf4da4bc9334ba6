"""Annotations a dataset import creates say so (``source`` "import"), in the rows and in
the API, for COCO and YOLO alike; annotations already on a matched image keep theirs."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from tests.webapp.factories_images import small_png
from tests.webapp.factories_imports import (
    annotation,
    box_mask,
    coco_document,
    coco_rle,
    json_file,
    post_import,
    store_image,
    zip_bytes,
    zip_file,
)
from webapp.annotations.models import Annotation
from webapp.annotations.services import mask_fields
from webapp.projects.models import LabelClass, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(make_project, media_root: Path) -> Project:
    return make_project(name="Sources")


@pytest.fixture
def owner(project: Project, user_in, api_client):
    return api_client(user_in(project, "owner"))


def test_a_coco_import_marks_its_annotations_as_imported_and_leaves_drawn_ones(
    owner, project: Project
) -> None:
    image = store_image(project, "photo.png")
    cat = LabelClass.objects.create(project=project, name="cat")
    drawn = Annotation.objects.create(
        image=image, label_class=cat, **mask_fields(image, rle=coco_rle(box_mask(0, 0, 5, 5)))
    )
    document = coco_document([annotation(1), annotation(2)])

    response = post_import(owner, project, json_file(document))

    assert response.status_code == 201, response.json()
    sources = dict(Annotation.objects.filter(image=image).values_list("pk", "source"))
    assert sources.pop(drawn.pk) == "manual"
    assert sorted(sources.values()) == ["import", "import"]
    listed = owner.get(
        reverse("annotation-list", kwargs={"project_pk": project.pk, "image_pk": image.pk})
    ).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert {row["id"]: row["source"] for row in rows} == {
        drawn.pk: "manual",
        **{pk: "import" for pk in sources},
    }
    assert all(row["proposal_id"] is None for row in rows)


def test_a_yolo_import_marks_its_annotations_as_imported(owner, project: Project) -> None:
    archive = zip_bytes(
        {
            "data.yaml": b"names: [cat, dog]\n",
            "images/train/a.png": small_png(1),
            "labels/train/a.txt": b"0 0.1 0.1 0.5 0.1 0.5 0.5\n1 0.6 0.6 0.9 0.6 0.9 0.9\n",
        }
    )

    response = post_import(owner, project, zip_file(archive), format="yolo")

    assert response.status_code == 201, response.json()
    stored = Annotation.objects.filter(image__project=project)
    assert sorted(stored.values_list("source", flat=True)) == ["import", "import"]
