"""Who may start an import and read its status: managers start; members read;
outsiders get 404, as does an import of another project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.webapp.factories_imports import (
    coco_archive,
    import_url,
    post_import,
    zip_file,
)
from webapp.imports.models import DatasetImport
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "annotator", "reviewer", "manager", "owner"]


@pytest.fixture
def project(make_project: Any, media_root: Path) -> Project:
    return make_project(name="Status")


@pytest.fixture
def finished(project: Project, user_in: Any, api_client: Any) -> dict[str, Any]:
    response = post_import(api_client(user_in(project, "owner")), project, zip_file(coco_archive()))
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.parametrize("role", ROLES)
def test_every_member_may_list_imports_and_read_one(
    project: Project, finished: dict[str, Any], user_in: Any, api_client: Any, role: str
) -> None:
    client = api_client(user_in(project, role))

    listing = client.get(import_url(project))
    detail = client.get(import_url(project, finished["id"]))

    assert listing.status_code == 200
    assert [row["id"] for row in listing.json()["results"]] == [finished["id"]]
    assert detail.status_code == 200
    assert detail.json()["status"] == "done"
    assert detail.json()["result"]["images_created"] == 2


@pytest.mark.parametrize(("role", "status"), [("manager", 201), ("reviewer", 403)])
def test_managers_start_imports_and_lower_roles_may_not(
    project: Project, user_in: Any, api_client: Any, role: str, status: int
) -> None:
    response = post_import(api_client(user_in(project, role)), project, zip_file(coco_archive()))

    assert response.status_code == status
    assert DatasetImport.objects.count() == (1 if status == 201 else 0)


def test_outsiders_get_404_for_imports(
    project: Project, finished: dict[str, Any], user_in: Any, api_client: Any
) -> None:
    client = api_client(user_in(project, "outsider"))

    assert client.get(import_url(project)).status_code == 404
    assert client.get(import_url(project, finished["id"])).status_code == 404
    assert post_import(client, project, zip_file(coco_archive())).status_code == 404
    assert DatasetImport.objects.count() == 1


def test_an_import_of_another_project_is_404(
    project: Project, finished: dict[str, Any], make_project: Any, api_client: Any
) -> None:
    other = make_project()
    client = api_client(other.memberships.get().user)

    assert client.get(import_url(other, finished["id"])).status_code == 404
    assert client.get(import_url(other)).json()["results"] == []


def test_anonymous_users_cannot_read_imports(project: Project, api_client: Any) -> None:
    assert api_client(None).get(import_url(project)).status_code in (401, 403)


def test_a_refused_import_keeps_its_problems_on_its_row(
    project: Project, user_in: Any, api_client: Any
) -> None:
    client = api_client(user_in(project, "manager"))
    response = post_import(client, project, zip_file(coco_archive(2, bad_annotation=True)))

    assert response.status_code == 400
    body = client.get(response.json()["url"]).json()
    assert body["status"] == "failed"
    assert body["problems"] == [
        {
            "record": "annotations[1]",
            "field": "category_id",
            "problem": "no category with id 99 in categories",
        }
    ]


@pytest.mark.parametrize(
    "fields",
    [{"format": "pascal"}, {"create_missing_classes": "maybe"}],
)
def test_bad_fields_are_refused_without_a_row(
    project: Project, user_in: Any, api_client: Any, fields: dict[str, str]
) -> None:
    client = api_client(user_in(project, "owner"))
    response = post_import(client, project, zip_file(coco_archive()), **fields)

    assert response.status_code == 400
    assert [p["field"] for p in response.json()["problems"]] == list(fields)
    assert not DatasetImport.objects.exists()
