"""The project page's datasets in a real browser: a manager imports a COCO archive and
sees the outcome at once (small) or the worker's progress (large); problems are listed;
only managers see the form; a reviewer's YOLO export shows its scope and split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tests.e2e.conftest import PASSWORD
from tests.webapp.factories_imports import coco_archive
from webapp.annotations.models import Annotation
from webapp.imports import services
from webapp.imports.models import DatasetImport
from webapp.imports.tasks import run_dataset_import
from webapp.projects.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_encoding() -> Any:
    """Imported images stay pending: these tests are about the import, not SAM."""
    with mock.patch("webapp.imports.datasets.queue_encoding"):
        yield


def open_project(page: Any, scene: Any) -> None:
    page.goto(f"{scene.url}/projects/{scene.project.pk}/")


def choose_dataset(page: Any, tmp_path: Path, archive: bytes, name: str = "dataset.zip") -> None:
    path = tmp_path / name
    path.write_bytes(archive)
    page.set_input_files("#import-form input[name=file]", str(path))


def wait_for_import(page: Any, status: str) -> str:
    page.wait_for_selector(f"#import-message[data-status={status}]")
    return page.locator("#import-message").text_content()


def test_a_manager_imports_a_small_dataset_and_sees_what_was_added(
    scene: Any, signed_in: Any, tmp_path: Path, no_encoding: Any
) -> None:
    s = scene()
    page = signed_in(s.url, "owner")
    open_project(page, s)
    choose_dataset(page, tmp_path, coco_archive(2))
    page.click("#import-form button[type=submit]")

    text = wait_for_import(page, "done")

    assert "2 images added, 0 matched, 1 classes created, 2 annotations" in text
    assert Annotation.objects.filter(image__project=s.project).count() == 2
    page.reload()
    assert page.locator("figure.tile img[alt='photo1.png']").count() == 1
    assert "2 annotations" in page.locator("#import-list li").first.text_content()


def test_a_large_import_shows_the_workers_progress_until_it_is_done(
    scene: Any, signed_in: Any, tmp_path: Path, no_encoding: Any
) -> None:
    s = scene()
    page = signed_in(s.url, "owner")
    open_project(page, s)
    choose_dataset(page, tmp_path, coco_archive(3))
    with (
        mock.patch.object(services, "RUN_IN_REQUEST_UP_TO_BYTES", 0),
        mock.patch("webapp.imports.tasks.run_dataset_import.delay"),
    ):
        page.click("#import-form button[type=submit]")
        text = wait_for_import(page, "pending")
    assert "on the worker: waiting for a worker" in text
    assert page.locator("#import-progress").is_visible()

    # The worker's turn; the page, polling the status, follows it to the end.
    run_dataset_import(DatasetImport.objects.get(project=s.project).pk)
    text = wait_for_import(page, "done")

    assert "3 images added" in text
    assert not page.locator("#import-progress").is_visible()


def test_a_refused_import_lists_its_problems_and_stores_nothing(
    scene: Any, signed_in: Any, tmp_path: Path
) -> None:
    s = scene()
    page = signed_in(s.url, "owner")
    open_project(page, s)
    document = {"images": [], "categories": [], "annotations": [{"image_id": 5}]}
    choose_dataset(page, tmp_path, json.dumps(document).encode(), "labels.json")
    page.click("#import-form button[type=submit]")

    text = wait_for_import(page, "failed")

    assert "Nothing was imported from labels.json" in text
    problems = page.locator("#import-problems li").all_text_contents()
    assert any(p.startswith("annotations[0] · image_id: no image with id 5") for p in problems)
    assert not Annotation.objects.exists()


def test_only_managers_see_the_import_form(
    scene: Any, signed_in: Any, django_user_model: Any
) -> None:
    s = scene()
    reviewer = django_user_model.objects.create_user("rita", password=PASSWORD)
    Membership.objects.create(project=s.project, user=reviewer, role="reviewer")

    page = signed_in(s.url, "rita")
    open_project(page, s)

    assert page.locator("#export-form").is_visible()
    assert page.locator("#import-form").count() == 0


def test_a_yolo_export_from_the_page_shows_its_scope_and_split(
    scene: Any, signed_in: Any, tmp_path: Path, no_encoding: Any
) -> None:
    s = scene()
    page = signed_in(s.url, "owner")
    open_project(page, s)
    choose_dataset(page, tmp_path, coco_archive(2))
    page.click("#import-form button[type=submit]")
    wait_for_import(page, "done")

    assert not page.locator("#export-split").is_visible()  # COCO has no split
    page.select_option("#export-form select[name=format]", "yolo")
    assert page.locator("#export-split").is_visible()
    # Review is on in this project: by default only accepted images would be exported.
    assert page.locator("#export-form select[name=image_scope]").input_value() == "accepted"
    page.select_option("#export-form select[name=image_scope]", "annotated")
    page.fill("#export-form input[name=val_fraction]", "0.5")
    page.fill("#export-form input[name=seed]", "4")
    page.click("#export-form button[type=submit]")

    row = page.locator("#export-list li", has_text="download")
    row.wait_for()
    assert "yolo, annotated images only, val 0.5 (seed 4)" in row.text_content()


def test_an_annotator_sees_that_there_are_no_exports_yet_and_who_makes_them(
    scene: Any, signed_in: Any, django_user_model: Any
) -> None:
    s = scene()
    annotator = django_user_model.objects.create_user("ann", password=PASSWORD)
    Membership.objects.create(project=s.project, user=annotator, role="annotator")

    page = signed_in(s.url, "ann")
    open_project(page, s)

    assert page.locator("#export-form").count() == 0
    page.locator("#export-empty").wait_for()
    assert page.locator("#export-empty").inner_text() == (
        "No exports yet. A reviewer, manager or owner can make one; you can download it here."
    )


def test_the_page_says_why_an_export_could_not_start(scene: Any, signed_in: Any) -> None:
    s = scene()
    page = signed_in(s.url, "owner")
    open_project(page, s)
    detail = "The job queue cannot be reached right now, so nothing was started."
    page.route(
        "**/exports/",
        lambda route: (
            route.fulfill(status=503, content_type="application/json", json={"detail": detail})
            if route.request.method == "POST"
            else route.continue_()
        ),
    )

    page.click("#export-form button[type=submit]")

    message = page.locator("#export-message")
    message.filter(has_text="Export not started").wait_for()
    assert message.inner_text() == f"Export not started: {detail}"
