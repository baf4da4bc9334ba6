"""Which models a new project may use: only those whose weights are on this server and
verified. The page lists the others greyed out with the command that fetches them; the
form and the API refuse them with that command; existing projects are left alone."""

from __future__ import annotations

import html
import os
import re

import pytest
from django.test import Client

from tests.webapp.conftest import ApiClientFor, MakeProject, MakeUser
from tests.webapp.factories_models import ModelCache
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db


def model_options(page: str) -> dict[str, tuple[str, bool, bool]]:
    """The model select's options: value -> (label, disabled, selected)."""
    select = re.search(r'<select name="model"[^>]*>(.*?)</select>', page, re.S)
    assert select, "the page has no model select"
    options = {}
    for attrs, label in re.findall(r"<option([^>]*)>(.*?)</option>", select.group(1), re.S):
        value = re.search(r'value="([^"]*)"', attrs)
        assert value
        options[value.group(1)] = (
            html.unescape(label.strip()),
            " disabled" in attrs,
            " selected" in attrs,
        )
    return options


def test_the_form_offers_models_with_weights_and_greys_out_the_others_with_their_command(
    client: Client, make_user: MakeUser, model_cache: ModelCache
) -> None:
    model_cache.add_weights("mobile_sam")
    client.force_login(make_user())

    page = client.get("/projects/").content.decode()

    options = model_options(page)
    assert options["mobile_sam"] == ("mobile_sam", False, True)
    for name in ("sam_vit_b", "sam_vit_l", "sam_vit_h"):
        label, disabled, selected = options[name]
        assert disabled and not selected
        assert label == f"{name} (no weights here: .venv/bin/python -m inference.fetch {name})"
    assert "Greyed-out models have no weights on this server yet" in page


def test_weights_fetched_later_are_offered_without_a_restart(
    client: Client, make_user: MakeUser, model_cache: ModelCache
) -> None:
    model_cache.add_weights("mobile_sam")
    client.force_login(make_user())
    assert model_options(client.get("/projects/").content.decode())["sam_vit_b"][1]

    model_cache.add_weights("sam_vit_b")

    assert model_options(client.get("/projects/").content.decode())["sam_vit_b"] == (
        "sam_vit_b",
        False,
        False,
    )


def test_the_form_refuses_a_model_without_weights_and_says_what_to_run(
    client: Client, make_user: MakeUser, model_cache: ModelCache
) -> None:
    model_cache.add_weights("mobile_sam")
    client.force_login(make_user())

    response = client.post("/projects/", {"name": "Cells", "model": "sam_vit_b"})

    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "This server cannot segment with sam_vit_b yet." in page
    assert "run `.venv/bin/python -m inference.fetch sam_vit_b`" in page
    assert not Project.objects.exists()


def test_the_form_creates_a_project_with_a_model_whose_weights_are_here(
    client: Client, make_user: MakeUser, model_cache: ModelCache
) -> None:
    model_cache.add_weights("sam_vit_b")
    client.force_login(make_user())

    response = client.post("/projects/", {"name": "Cells", "model": "sam_vit_b"})

    assert response.status_code == 302
    assert Project.objects.get().model == "sam_vit_b"


def test_without_any_weights_the_form_says_so_and_selects_nothing_usable(
    client: Client, make_user: MakeUser, model_cache: ModelCache
) -> None:
    client.force_login(make_user())

    page = client.get("/projects/").content.decode()

    assert all(disabled for _, disabled, _ in model_options(page).values())
    assert "No model&#x27;s weights are on this server yet" in page


def test_the_api_refuses_a_model_without_weights_with_a_400_that_says_what_to_run(
    make_user: MakeUser, api_client: ApiClientFor, model_cache: ModelCache
) -> None:
    model_cache.add_weights("mobile_sam")

    response = api_client(make_user()).post(
        "/api/projects/", {"name": "Big", "model": "sam_vit_h"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "model": [
            "This server cannot segment with sam_vit_h yet. The weights of sam_vit_h are not "
            "on this machine; run `.venv/bin/python -m inference.fetch sam_vit_h`."
        ]
    }
    assert not Project.objects.exists()


def test_the_api_refuses_the_default_model_when_its_weights_are_missing(
    make_user: MakeUser, api_client: ApiClientFor, model_cache: ModelCache
) -> None:
    response = api_client(make_user()).post("/api/projects/", {"name": "Cells"}, format="json")

    assert response.status_code == 400
    assert "inference.fetch mobile_sam" in response.json()["model"][0]


def test_the_api_refuses_corrupt_weights(
    make_user: MakeUser, api_client: ApiClientFor, model_cache: ModelCache
) -> None:
    path = model_cache.add_weights("sam_vit_b")
    path.write_bytes(b"\0" * path.stat().st_size)
    stat = path.stat()
    os.utime(path, ns=(stat.st_mtime_ns + 10**9, stat.st_mtime_ns + 10**9))

    response = api_client(make_user()).post(
        "/api/projects/", {"name": "Big", "model": "sam_vit_b"}, format="json"
    )

    assert response.status_code == 400
    assert "corrupt or not the expected file" in response.json()["model"][0]


def test_projects_whose_weights_went_missing_can_still_be_edited(
    make_user: MakeUser,
    make_project: MakeProject,
    api_client: ApiClientFor,
    model_cache: ModelCache,
) -> None:
    owner = make_user()
    project = make_project(owner=owner, model="sam_vit_b")

    response = api_client(owner).patch(
        f"/api/projects/{project.pk}/", {"name": "Renamed"}, format="json"
    )

    assert response.status_code == 200
    project.refresh_from_db()
    assert (project.name, project.model) == ("Renamed", "sam_vit_b")
