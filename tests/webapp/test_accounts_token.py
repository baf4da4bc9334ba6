from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.webapp.conftest import DEFAULT_PASSWORD, MakeProject, MakeUser


def test_a_script_obtains_a_token_and_lists_its_projects(
    make_user: MakeUser, make_project: MakeProject
) -> None:
    ann = make_user(username="ann")
    make_project(owner=ann, name="Cells")
    make_project(name="Someone else's")
    script = APIClient()

    token = script.post(
        "/api/auth/token/", {"username": "ann", "password": DEFAULT_PASSWORD}, format="json"
    )
    assert token.status_code == 200
    script.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    response = script.get("/api/projects/")

    assert response.status_code == 200
    assert [p["name"] for p in response.json()["results"]] == ["Cells"]


def test_the_same_token_comes_back_each_time(make_user: MakeUser) -> None:
    make_user(username="ann")
    credentials = {"username": "ann", "password": DEFAULT_PASSWORD}

    first = APIClient().post("/api/auth/token/", credentials, format="json").json()["token"]
    second = APIClient().post("/api/auth/token/", credentials, format="json").json()["token"]

    assert first == second


def test_a_wrong_password_gets_no_token(make_user: MakeUser) -> None:
    make_user(username="ann")

    response = APIClient().post(
        "/api/auth/token/", {"username": "ann", "password": "nope"}, format="json"
    )

    assert response.status_code == 400
    assert "token" not in response.json()


@pytest.mark.django_db
def test_a_made_up_token_is_refused() -> None:
    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    response = script.get("/api/projects/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["detail"] == "Invalid token."


@pytest.mark.django_db
def test_the_openapi_schema_documents_the_api(client: Client) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/auth/token/",
        "/api/projects/",
        "/api/projects/{id}/",
        "/api/projects/{project_pk}/members/",
        "/api/projects/{project_pk}/members/{id}/",
        "/api/projects/{project_pk}/label-classes/",
        "/api/projects/{project_pk}/label-classes/{id}/",
        "/api/projects/{project_pk}/stats/",
    ]:
        assert path in paths, path


@pytest.mark.django_db
def test_the_api_docs_page_renders(client: Client) -> None:
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert "/api/schema/" in response.content.decode()
