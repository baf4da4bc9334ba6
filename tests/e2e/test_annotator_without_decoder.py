"""The annotator in a real browser on a project whose model has no weights on the server:
the upload fails at once with the reason, and the page says what is missing and what to
run instead of an error code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from skimage import data

from tests.e2e.conftest import PASSWORD, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def test_without_weights_the_annotator_says_what_to_run_and_the_image_why_it_failed(
    live_server: Any,
    e2e_settings: Any,
    django_user_model: Any,
    browser: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.images.uploads import ingest_upload
    from webapp.projects.models import Project

    # An empty cache: no weights, nothing built, for the server thread too.
    monkeypatch.setenv("SAMLABEL_CACHE_DIR", str(tmp_path / "empty-cache"))
    owner = django_user_model.objects.create_user("owner", password=PASSWORD)
    project = Project.create_with_owner(owner, name="Big model", model="sam_vit_b")
    upload = SimpleUploadedFile("coffee.png", png_bytes(data.coffee()))
    image = ingest_upload(project, upload, owner).image
    assert image is not None
    image.refresh_from_db()
    assert image.status == "failed"
    assert "inference.fetch sam_vit_b" in image.failure_reason

    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "owner")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{live_server.url}/projects/{project.pk}/images/{image.pk}/annotate/")
        page.wait_for_function(
            "() => document.getElementById('annotator-status').textContent"
            ".includes('Cannot start the annotator')",
            timeout=60_000,
        )
        status = page.locator("#annotator-status").text_content() or ""
    finally:
        context.close()

    assert "The decoder files of sam_vit_b are not built" in status
    assert ".venv/bin/python -m inference.fetch sam_vit_b" in status
    assert "500" not in status
