"""The content security policy on every response: only this server's scripts, styles,
workers and WebAssembly; the annotator's one inline style block by a nonce of its own."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from webapp.projects.models import LabelClass

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {
        name: sources
        for name, *sources in (part.split() for part in policy.split(";") if part.strip())
    }


def test_pages_allow_only_this_servers_own_scripts_and_styles(client: Client) -> None:
    policy = directives(client.get("/accounts/login/"))

    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["worker-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]


def test_api_responses_and_errors_carry_the_policy_too(client: Client, make_user) -> None:
    client.force_login(make_user())

    for url in ["/api/projects/", "/projects/999999999/", "/api/docs/?nothing"]:
        assert "default-src 'self'" in client.get(url)["Content-Security-Policy"], url


def test_the_annotator_admits_its_inline_style_by_a_nonce_for_each_response(
    make_project, make_image_row
) -> None:
    project = make_project()
    owner = project.memberships.get().user
    image = make_image_row(project, status="ready")
    client = Client()
    client.force_login(owner)

    nonces = []
    for _ in range(2):
        response = client.get(f"/projects/{project.pk}/images/{image.pk}/annotate/")
        page = response.content.decode()
        nonce = re.search(r'<style nonce="([^"]+)">', page).group(1)
        assert f"'nonce-{nonce}'" in directives(response)["style-src"]
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
        nonces.append(nonce)

    assert nonces[0] != nonces[1]
    assert len(nonces[0]) >= 22


def test_the_api_docs_run_their_set_up_script_by_nonce_only(client: Client) -> None:
    response = client.get("/api/docs/")
    page = response.content.decode()

    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
    assert len(inline) == 1
    nonce = re.fullmatch(r' nonce="([^"]+)"', inline[0]).group(1)
    assert f"'nonce-{nonce}'" in directives(response)["script-src"]
    assert "<style" not in page


def test_the_project_page_has_no_inline_style_for_viewers(make_project, user_in) -> None:
    project = make_project()
    LabelClass.objects.create(project=project, name="mug", color="#00a0ff")
    client = Client()
    client.force_login(user_in(project, "viewer"))

    page = client.get(f"/projects/{project.pk}/").content.decode()

    assert "mug" in page
    assert 'fill="#00a0ff"' in page
    assert " style=" not in page
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None
