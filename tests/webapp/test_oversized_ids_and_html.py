"""Requests that used to crash the server (500) and now get a clear answer: ids too large
for any row, and the browsable API's page of an image's annotations."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db

TOO_LARGE = 10**20  # over the 64-bit ids of every table: it overflowed the database driver


@pytest.mark.parametrize("field", ["images", "label_classes"])
def test_an_export_of_an_id_too_large_for_any_row_is_refused(
    field: str, make_project: Any, user_in: Any, api_client: Any
) -> None:
    project = make_project()
    client = api_client(user_in(project, "reviewer"))

    response = client.post(
        f"/api/projects/{project.pk}/exports/",
        {"format": "coco", field: [TOO_LARGE]},
        format="json",
    )

    assert response.status_code == 400
    assert field in response.json()


def test_deleting_an_image_id_too_large_for_any_row_is_refused(
    make_project: Any, user_in: Any, api_client: Any, make_image_row: Any
) -> None:
    project = make_project()
    image = make_image_row(project)
    client = api_client(user_in(project, "manager"))

    response = client.post(
        f"/api/projects/{project.pk}/images/delete/", {"ids": [TOO_LARGE]}, format="json"
    )

    assert response.status_code == 400
    assert "ids" in response.json()
    assert project.images.get() == image


def test_the_browsable_api_shows_an_images_annotations(
    make_project: Any, user_in: Any, api_client: Any, make_image_row: Any
) -> None:
    project = make_project()
    image = make_image_row(project, status="ready")
    client = api_client(user_in(project, "annotator"))

    response = client.get(
        f"/api/projects/{project.pk}/images/{image.pk}/annotations/", HTTP_ACCEPT="text/html"
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
