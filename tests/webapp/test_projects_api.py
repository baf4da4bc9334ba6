from __future__ import annotations

import pytest
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.test import APIClient

from tests.webapp.conftest import ApiClientFor, MakeProject, MakeUser, UserIn
from tests.webapp.factories_models import ModelCache
from webapp.projects.models import Membership, Project

MEMBER_ROLES = ["viewer", "annotator", "reviewer", "manager", "owner"]


def test_the_list_holds_only_my_projects_with_my_role(
    make_user: MakeUser, make_project: MakeProject, user_in: UserIn, api_client: ApiClientFor
) -> None:
    ann = make_user()
    mine = make_project(owner=ann, name="Mine")
    shared = make_project(name="Shared")
    Membership.objects.create(project=shared, user=ann, role="viewer")
    make_project(name="Not mine")

    response = api_client(ann).get("/api/projects/")

    assert response.status_code == 200
    roles = {p["name"]: p["role"] for p in response.json()["results"]}
    assert roles == {"Mine": "owner", "Shared": "viewer"}
    assert mine.pk in [p["id"] for p in response.json()["results"]]


def test_anonymous_requests_are_refused(make_project: MakeProject) -> None:
    project = make_project()
    anonymous = APIClient()

    assert anonymous.get("/api/projects/").status_code in (401, 403)
    assert anonymous.post("/api/projects/", {"name": "x"}).status_code in (401, 403)
    assert anonymous.get(f"/api/projects/{project.pk}/").status_code in (401, 403)


def test_creating_a_project_makes_me_its_owner_with_the_default_model(
    make_user: MakeUser, api_client: ApiClientFor
) -> None:
    ann = make_user()

    response = api_client(ann).post("/api/projects/", {"name": "Cells"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["role"] == "owner"
    assert body["model"] == "mobile_sam"
    assert body["created_by"] == ann.get_username()
    project = Project.objects.get(pk=body["id"])
    assert project.role_of(ann) == "owner"


def test_creating_a_project_with_a_known_model(
    make_user: MakeUser, api_client: ApiClientFor, model_cache: ModelCache
) -> None:
    model_cache.add_weights("sam_vit_b")

    response = api_client(make_user()).post(
        "/api/projects/", {"name": "Big", "model": "sam_vit_b"}, format="json"
    )

    assert response.status_code == 201
    assert Project.objects.get(pk=response.json()["id"]).model == "sam_vit_b"


def test_an_unknown_model_is_refused_and_nothing_is_stored(
    make_user: MakeUser, api_client: ApiClientFor
) -> None:
    response = api_client(make_user()).post(
        "/api/projects/", {"name": "Cells", "model": "sam_vit_zzz"}, format="json"
    )

    assert response.status_code == 400
    message = response.json()["model"][0]
    assert "Unknown model 'sam_vit_zzz'" in message
    assert "mobile_sam" in message
    assert not Project.objects.exists()


def test_a_project_needs_a_name(make_user: MakeUser, api_client: ApiClientFor) -> None:
    response = api_client(make_user()).post("/api/projects/", {"name": ""}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()
    assert not Project.objects.exists()


@pytest.mark.parametrize("role", MEMBER_ROLES)
def test_every_member_reads_the_project(
    role: str, make_project: MakeProject, user_in: UserIn, api_client: ApiClientFor
) -> None:
    project = make_project(name="Cells")

    response = api_client(user_in(project, role)).get(f"/api/projects/{project.pk}/")

    assert response.status_code == 200
    assert response.json()["name"] == "Cells"
    assert response.json()["role"] == role


def test_an_outsider_cannot_tell_the_project_exists(
    make_project: MakeProject, user_in: UserIn, api_client: ApiClientFor
) -> None:
    project = make_project(name="Secret")
    outsider = api_client(user_in(project, "outsider"))

    for method in ("get", "patch", "delete"):
        response = getattr(outsider, method)(f"/api/projects/{project.pk}/", format="json")
        assert response.status_code == 404, method
        assert "Secret" not in response.content.decode()
    assert outsider.get("/api/projects/999999/").status_code == 404
    assert Project.objects.filter(pk=project.pk, name="Secret").exists()


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", 403), ("annotator", 403), ("reviewer", 403), ("manager", 200), ("owner", 200)],
)
def test_managers_and_owners_edit_the_project(
    role: str, expected: int, make_project: MakeProject, user_in: UserIn, api_client: ApiClientFor
) -> None:
    project = make_project(name="Old")

    response = api_client(user_in(project, role)).patch(
        f"/api/projects/{project.pk}/", {"name": "New", "description": "Cells"}, format="json"
    )

    assert response.status_code == expected
    project.refresh_from_db()
    assert project.name == ("New" if expected == 200 else "Old")


def test_the_model_cannot_be_changed_after_creation(
    make_project: MakeProject, user_in: UserIn, api_client: ApiClientFor
) -> None:
    project = make_project()

    response = api_client(user_in(project, "owner")).patch(
        f"/api/projects/{project.pk}/", {"model": "sam_vit_b"}, format="json"
    )

    assert response.status_code == 400
    assert "cannot be changed" in response.json()["model"][0]
    project.refresh_from_db()
    assert project.model == "mobile_sam"


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", 403), ("annotator", 403), ("reviewer", 403), ("manager", 403), ("owner", 204)],
)
def test_only_an_owner_deletes_the_project(
    role: str, expected: int, make_project: MakeProject, user_in: UserIn, api_client: ApiClientFor
) -> None:
    project = make_project()
    user: AbstractBaseUser = user_in(project, role)

    response = api_client(user).delete(f"/api/projects/{project.pk}/")

    assert response.status_code == expected
    assert Project.objects.filter(pk=project.pk).exists() == (expected != 204)
