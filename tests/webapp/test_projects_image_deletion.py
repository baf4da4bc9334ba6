"""Deleting images from a project (one or many) and the gallery's annotation filter:
managers delete, with the images' annotations, embeddings and stored files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.webapp.conftest import ApiClientFor, MakeImageRow, MakeProject, UserIn
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.images.models import Image, ImageEmbedding
from webapp.projects.models import LabelClass


def annotate(image: Image, label: LabelClass) -> Annotation:
    mask = np.zeros((image.height, image.width), dtype=bool)
    mask[1, 1:3] = True
    counts = rle.encode(mask)
    return Annotation.objects.create(
        image=image, label_class=label, rle=counts, bbox=rle.bbox(counts), area=rle.area(counts)
    )


def stored(settings: Any) -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def gallery(make_project: MakeProject, make_image_row: MakeImageRow) -> Any:
    project = make_project()
    label = LabelClass.objects.create(project=project, name="cell")
    images = [make_image_row(project, name=f"slide{n}.png", status="ready") for n in range(3)]
    for n, image in enumerate(images[:2]):
        annotate(image, label)
        ImageEmbedding.store(image, project.model, np.full((256, 64, 64), n))
    return project, images


def delete(client: Any, project: Any, ids: list[int]) -> Any:
    return client.post(f"/api/projects/{project.pk}/images/delete/", {"ids": ids}, format="json")


@pytest.mark.django_db(transaction=True)
def test_a_manager_deletes_images_with_their_annotations_embeddings_and_files(
    gallery: Any, api_client: ApiClientFor, user_in: UserIn, settings: Any
) -> None:
    project, (first, second, third) = gallery
    first_embedding_sha = first.embedding_for(project.model).sha256
    files_before = stored(settings)

    response = delete(api_client(user_in(project, "manager")), project, [first.pk, third.pk])

    assert response.status_code == 200
    assert response.json() == {"deleted": sorted([first.pk, third.pk])}
    assert list(Image.objects.values_list("pk", flat=True)) == [second.pk]
    assert Annotation.objects.filter(image_id=first.pk).count() == 0
    assert Annotation.objects.count() == 1
    assert not ImageEmbedding.objects.filter(image_id=first.pk).exists()
    gone = set(files_before) - set(stored(settings))
    first_embedding = f"embeddings/{project.model}/{first_embedding_sha}.npy"
    assert gone == {first.file.name, third.file.name, first_embedding}


@pytest.mark.parametrize(
    ("role", "status"),
    [("viewer", 403), ("annotator", 403), ("reviewer", 403), ("outsider", 404)],
)
def test_only_managers_delete_images(
    role: str, status: int, gallery: Any, api_client: ApiClientFor, user_in: UserIn
) -> None:
    project, images = gallery

    response = delete(api_client(user_in(project, role)), project, [images[0].pk])

    assert response.status_code == status
    assert Image.objects.count() == 3


def test_ids_from_another_project_delete_nothing(
    gallery: Any,
    api_client: ApiClientFor,
    user_in: UserIn,
    make_project: MakeProject,
    make_image_row: MakeImageRow,
) -> None:
    project, images = gallery
    elsewhere = make_image_row(make_project())

    response = delete(api_client(user_in(project, "owner")), project, [images[0].pk, elsewhere.pk])

    assert response.status_code == 400
    assert str(elsewhere.pk) in response.json()["ids"][0]
    assert Image.objects.count() == 4


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": "1,2"}, {"ids": [0]}, {"ids": ["x"]}])
def test_a_malformed_request_is_a_400(
    body: dict[str, Any], gallery: Any, api_client: ApiClientFor, user_in: UserIn
) -> None:
    project, _ = gallery

    response = api_client(user_in(project, "owner")).post(
        f"/api/projects/{project.pk}/images/delete/", body, format="json"
    )

    assert response.status_code == 400
    assert Image.objects.count() == 3


@pytest.mark.parametrize(("value", "expected"), [("true", [0, 1]), ("false", [2])])
def test_the_images_api_filters_by_annotations(
    value: str, expected: list[int], gallery: Any, api_client: ApiClientFor, user_in: UserIn
) -> None:
    project, images = gallery

    response = api_client(user_in(project, "viewer")).get(
        f"/api/projects/{project.pk}/images/", {"annotated": value}
    )

    assert response.status_code == 200
    assert [i["id"] for i in response.json()["results"]] == [images[n].pk for n in expected]


def test_a_bad_annotated_filter_is_a_400(
    gallery: Any, api_client: ApiClientFor, user_in: UserIn
) -> None:
    project, _ = gallery

    response = api_client(user_in(project, "viewer")).get(
        f"/api/projects/{project.pk}/images/", {"annotated": "maybe"}
    )

    assert response.status_code == 400
