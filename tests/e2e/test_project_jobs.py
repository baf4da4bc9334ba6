"""The project page's exports and imports in a real browser: cancel, retry and delete
buttons, when an export expires, and polling that stops once nothing is pending or
running. Before, a job could be none of these and the page asked about it for ever."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from tests.e2e.conftest import PASSWORD
from tests.webapp.factories_imports import coco_archive
from webapp.exports.models import Export
from webapp.imports.models import DatasetImport
from webapp.projects.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)


def open_project(page: Any, scene: Any) -> list[str]:
    """Open the project page; the list of exports/imports list requests it makes."""
    asked: list[str] = []
    page.on(
        "request",
        lambda r: (
            asked.append(r.url)
            if r.method == "GET" and r.url.endswith(("/exports/", "/imports/"))
            else None
        ),
    )
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{scene.url}/projects/{scene.project.pk}/")
    return asked


def export_row(page: Any, export: Export, status: str) -> Any:
    row = page.locator(f"#export-list li[data-export-id='{export.pk}'][data-status={status}]")
    row.wait_for()
    return row


def exports_asked(asked: list[str]) -> int:
    return sum(u.endswith("/exports/") for u in asked)


def wait_until_asked(page: Any, asked: list[str], times: int, timeout_s: float = 30) -> None:
    """Let the page run until it has asked for the exports list ``times`` times."""
    waited = 0.0
    while exports_asked(asked) < times:
        assert waited < timeout_s, f"the page asked {exports_asked(asked)} times, not {times}"
        page.wait_for_timeout(100)
        waited += 0.1


def test_a_reviewer_cancels_retries_and_deletes_exports_and_polling_stops(
    scene: Any, signed_in: Any, django_user_model: Any, settings: Any
) -> None:
    s = scene()
    reviewer = django_user_model.objects.create_user("rev", password=PASSWORD)
    Membership.objects.create(project=s.project, user=reviewer, role="reviewer")
    settings.SAMLABEL_EXPORT_TTL_DAYS = 7
    queued = Export.objects.create(project=s.project, format="coco")  # no worker yet
    done = Export.objects.create(project=s.project, format="voc", status="done",
                                 finished_at=timezone.now())  # fmt: skip
    done.file.save("x.zip", ContentFile(b"PK zip"), save=True)
    stored = Path(done.file.path)

    page = signed_in(s.url, "rev")
    asked = open_project(page, s)
    row = export_row(page, queued, "pending")
    wait_until_asked(page, asked, 2)  # it follows the pending export

    row.locator("button[data-action=cancel]").click()
    row = export_row(page, queued, "cancelled")
    assert "cancelled" in row.inner_text()
    assert Export.objects.get(pk=queued.pk).status == "cancelled"
    settled = exports_asked(asked)
    page.wait_for_timeout(3000)
    assert exports_asked(asked) == settled  # nothing pending or running: no more polling

    # A retry is queued (run at once here: the test's Celery is eager) and downloadable.
    row.locator("button[data-action=retry]").click()
    row = export_row(page, queued, "done")
    assert row.locator("a", has_text="download").count() == 1
    expiry = timezone.localtime(done.finished_at + timezone.timedelta(days=7))
    assert "kept until" in export_row(page, done, "done").inner_text()
    assert str(expiry.year) in export_row(page, done, "done").inner_text()

    export_row(page, done, "done").locator("button[data-action=delete]").click()
    page.locator(f"#export-list li[data-export-id='{done.pk}']").wait_for(state="detached")
    assert page.locator("#export-message").inner_text() == f"Export #{done.pk} deleted."
    assert not Export.objects.filter(pk=done.pk).exists()
    assert not stored.exists()


def test_members_who_may_not_export_see_no_buttons(
    scene: Any, signed_in: Any, django_user_model: Any
) -> None:
    s = scene()
    annotator = django_user_model.objects.create_user("ann", password=PASSWORD)
    Membership.objects.create(project=s.project, user=annotator, role="annotator")
    Export.objects.create(project=s.project, format="coco", status="failed", error="boom")

    page = signed_in(s.url, "ann")
    open_project(page, s)

    assert "failed: boom" in page.locator("#export-list li").first.inner_text()
    assert page.locator("#export-list button").count() == 0


def test_a_manager_cancels_a_queued_import_retries_it_and_deletes_its_record(
    scene: Any, signed_in: Any
) -> None:
    s = scene()
    queued = DatasetImport.objects.create(project=s.project, format="coco",
                                          original_name="big.zip")  # fmt: skip
    queued.file.save("big.zip", ContentFile(coco_archive(2)), save=True)
    upload = Path(queued.file.path)

    page = signed_in(s.url, "owner")
    asked = open_project(page, s)
    page.wait_for_selector("#import-message[data-status=pending]")
    line = page.locator(f"#import-list li[data-import-id='{queued.pk}']")
    line.locator("button[data-action=cancel]").click()

    page.wait_for_selector("#import-message[data-status=cancelled]")
    assert page.locator("#import-message").inner_text() == (
        "Cancelled: nothing was imported from big.zip."
    )
    assert not page.locator("#import-progress").is_visible()
    settled = len(asked)
    page.wait_for_timeout(2500)
    assert len(asked) == settled  # no more polling

    with mock.patch("webapp.imports.datasets.queue_encoding"):
        line.locator("button[data-action=retry]").click()  # runs at once: eager Celery
        page.wait_for_selector("#import-message[data-status=done]")
    assert "2 images added" in page.locator("#import-message").inner_text()
    assert not upload.exists()  # a done import keeps no upload

    page.locator(f"#import-list li[data-import-id='{queued.pk}'][data-status=done]").locator(
        "button[data-action=delete]"
    ).click()
    page.wait_for_selector("#import-message[data-status=deleted]")
    page.locator("#import-list li").wait_for(state="detached")
    assert not DatasetImport.objects.exists()
    assert s.project.images.count() == 2  # what it brought in stays
