from __future__ import annotations

import pytest

from tests.webapp.conftest import ApiClientFor, MakeImageRow, MakeProject, MakeUser, UserIn
from webapp.annotations.models import Annotation
from webapp.projects.models import LabelClass


def annotate(image: object, label_class: LabelClass, author: object) -> Annotation:
    return Annotation.objects.create(
        image=image, label_class=label_class, author=author, rle={}, bbox=[0, 0, 1, 1], area=1
    )


@pytest.mark.parametrize("role", ["viewer", "annotator", "reviewer", "manager", "owner"])
def test_members_see_images_and_annotations_counted(
    role: str,
    make_project: MakeProject,
    make_user: MakeUser,
    user_in: UserIn,
    make_image_row: MakeImageRow,
    api_client: ApiClientFor,
) -> None:
    project = make_project()
    cat = LabelClass.objects.create(project=project, name="cat", color="#ff0000", order=0)
    dog = LabelClass.objects.create(project=project, name="dog", color="#00ff00", order=1)
    bird = LabelClass.objects.create(project=project, name="bird", color="#0000ff", order=2)
    ann, bob = make_user(username="ann"), make_user(username="bob")
    first = make_image_row(project, status="ready")
    make_image_row(project, status="ready")
    make_image_row(project, status="pending")
    make_image_row(project, status="failed")
    annotate(first, cat, ann)
    annotate(first, cat, ann)
    annotate(first, dog, bob)
    other = make_project()
    other_class = LabelClass.objects.create(project=other, name="cat")
    annotate(make_image_row(other, status="ready"), other_class, ann)

    response = api_client(user_in(project, role)).get(f"/api/projects/{project.pk}/stats/")

    assert response.status_code == 200
    assert response.json() == {
        "images": {"total": 4, "pending": 1, "encoding": 0, "ready": 2, "failed": 1},
        "annotations": {
            "total": 3,
            "by_label_class": [
                {"id": cat.pk, "name": "cat", "color": "#ff0000", "count": 2},
                {"id": dog.pk, "name": "dog", "color": "#00ff00", "count": 1},
                {"id": bird.pk, "name": "bird", "color": "#0000ff", "count": 0},
            ],
            "by_author": [
                {"user_id": ann.pk, "username": "ann", "count": 2},
                {"user_id": bob.pk, "username": "bob", "count": 1},
            ],
        },
    }


def test_an_empty_project_has_zero_everything(
    make_project: MakeProject, user_in: UserIn, api_client: ApiClientFor
) -> None:
    project = make_project()

    response = api_client(user_in(project, "owner")).get(f"/api/projects/{project.pk}/stats/")

    assert response.json() == {
        "images": {"total": 0, "pending": 0, "encoding": 0, "ready": 0, "failed": 0},
        "annotations": {"total": 0, "by_label_class": [], "by_author": []},
    }


def test_an_outsider_gets_404_for_statistics(
    make_project: MakeProject, user_in: UserIn, api_client: ApiClientFor
) -> None:
    project = make_project()

    response = api_client(user_in(project, "outsider")).get(f"/api/projects/{project.pk}/stats/")

    assert response.status_code == 404


def test_statistics_are_read_only(
    make_project: MakeProject, user_in: UserIn, api_client: ApiClientFor
) -> None:
    project = make_project()

    response = api_client(user_in(project, "owner")).post(f"/api/projects/{project.pk}/stats/")

    assert response.status_code == 405
