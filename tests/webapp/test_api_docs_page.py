"""The API docs page refers only to this server's static files."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client


@pytest.mark.django_db
def test_the_docs_page_loads_swagger_ui_from_our_static_files(client: Client) -> None:
    response = client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(s.endswith("swagger-ui-bundle.js") for s in sources)
    assert all(s.startswith("/static/") for s in sources), sources
    assert "cdn" not in page.lower()


@pytest.mark.parametrize("name", ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"])
def test_collectstatic_finds_swagger_ui(name: str) -> None:
    assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{name}") is not None
