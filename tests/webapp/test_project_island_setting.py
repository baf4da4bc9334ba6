"""The project's island setting (mask editing): managers set it through the API and the
settings form, its bounds are checked, and the annotator's configuration carries it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from tests.webapp.conftest import ApiClientFor, MakeImageRow, MakeProject, UserIn


def test_new_projects_remove_no_islands(make_project: MakeProject) -> None:
    assert make_project().min_island_pixels == 0


@pytest.mark.parametrize(
    ("role", "expected"), [("manager", 200), ("annotator", 403), ("outsider", 404)]
)
def test_only_managers_change_the_island_setting(
    make_project: MakeProject, api_client: ApiClientFor, user_in: UserIn, role: str, expected: int
) -> None:
    project = make_project()
    response = api_client(user_in(project, role)).patch(
        f"/api/projects/{project.pk}/", {"min_island_pixels": 25}, format="json"
    )
    assert response.status_code == expected
    project.refresh_from_db()
    assert project.min_island_pixels == (25 if expected == 200 else 0)
    if expected == 200:
        assert response.json()["min_island_pixels"] == 25


@pytest.mark.parametrize("bad", [-1, 1_000_001, "many"])
def test_an_island_size_out_of_bounds_is_refused_and_nothing_changes(
    make_project: MakeProject, api_client: ApiClientFor, bad: Any
) -> None:
    project = make_project(min_island_pixels=7)
    response = api_client(project.created_by).patch(
        f"/api/projects/{project.pk}/", {"min_island_pixels": bad}, format="json"
    )
    assert response.status_code == 400 and "min_island_pixels" in response.json()
    project.refresh_from_db()
    assert project.min_island_pixels == 7


def test_the_settings_form_shows_the_setting_and_the_annotator_is_given_it(
    make_project: MakeProject, make_image_row: MakeImageRow, user_in: UserIn
) -> None:
    project = make_project(min_island_pixels=40)
    image = make_image_row(project)
    client = Client()
    client.force_login(user_in(project, "owner"))
    settings_page = client.get(f"/projects/{project.pk}/").content.decode()
    assert re.search(r'name="min_island_pixels" value="40"', settings_page)
    page = client.get(f"/projects/{project.pk}/images/{image.pk}/annotate/").content.decode()
    match = re.search(r'id="annotator-config" type="application/json">(.*?)</script>', page, re.S)
    assert match and json.loads(match.group(1))["minIslandPixels"] == 40
