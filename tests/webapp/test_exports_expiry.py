"""Exports expire: SAMLABEL_EXPORT_TTL_DAYS after an export finished, the hourly task
deletes it with its zip, and the API says when. Before, each export with images was a
permanent copy of the project on disk."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from tests.webapp.factories_images import stored_files
from webapp.exports.models import Export
from webapp.exports.tasks import delete_expired_exports
from webapp.imports.models import DatasetImport
from webapp.imports.tasks import discard_expired_uploads
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(make_project: Any, media_root: Path) -> Project:
    return make_project()


def finished_export(project: Project, days_ago: float, status: str = "done") -> Export:
    export = Export.objects.create(
        project=project,
        format="coco",
        status=status,
        finished_at=timezone.now() - timedelta(days=days_ago),
    )
    if status == "done":
        export.file.save("x.zip", ContentFile(b"PK zip"), save=True)
    return export


def test_exports_finished_longer_ago_than_the_ttl_go_with_their_zips(
    project: Project, media_root: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SAMLABEL_EXPORT_TTL_DAYS = 7
    old = finished_export(project, days_ago=8)
    old_failed = finished_export(project, days_ago=30, status="failed")
    recent = finished_export(project, days_ago=6)
    running = Export.objects.create(project=project, format="coco", status="running")

    with django_capture_on_commit_callbacks(execute=True):
        assert delete_expired_exports() == 2

    assert set(Export.objects.values_list("pk", flat=True)) == {recent.pk, running.pk}
    assert not Export.objects.filter(pk__in=[old.pk, old_failed.pk]).exists()
    assert [p.name for p in stored_files(media_root / "exports")] == [Path(recent.file.name).name]


def test_a_ttl_of_zero_keeps_exports_for_ever(project: Project, settings: Any) -> None:
    settings.SAMLABEL_EXPORT_TTL_DAYS = 0
    finished_export(project, days_ago=3650)

    assert delete_expired_exports() == 0
    assert Export.objects.count() == 1


def test_the_api_says_when_an_export_expires(
    project: Project, user_in: Any, api_client: Any, settings: Any
) -> None:
    settings.SAMLABEL_EXPORT_TTL_DAYS = 7
    export = finished_export(project, days_ago=1)
    pending = Export.objects.create(project=project, format="coco")
    client = api_client(user_in(project, "viewer"))

    body = client.get(reverse("export-detail", args=[project.pk, export.pk])).json()
    assert body["expires_at"] == (export.finished_at + timedelta(days=7)).isoformat().replace(
        "+00:00", "Z"
    )
    body = client.get(reverse("export-detail", args=[project.pk, pending.pk])).json()
    assert body["expires_at"] is None
    settings.SAMLABEL_EXPORT_TTL_DAYS = 0
    body = client.get(reverse("export-detail", args=[project.pk, export.pk])).json()
    assert body["expires_at"] is None


def test_a_kept_import_upload_is_discarded_after_the_ttl_and_its_row_stays(
    project: Project, media_root: Path, settings: Any
) -> None:
    settings.SAMLABEL_EXPORT_TTL_DAYS = 7
    uploads = {}
    for days_ago in (8, 2):
        dataset_import = DatasetImport.objects.create(
            project=project,
            format="coco",
            original_name="big.zip",
            status="cancelled",
            finished_at=timezone.now() - timedelta(days=days_ago),
        )
        dataset_import.file.save("big.zip", ContentFile(b"PK zip"), save=True)
        uploads[days_ago] = dataset_import

    assert discard_expired_uploads() == [uploads[8].pk]

    assert DatasetImport.objects.count() == 2
    uploads[8].refresh_from_db()
    assert not uploads[8].file and not uploads[8].can_retry
    assert [p.name for p in stored_files(media_root / "imports")] == [
        Path(uploads[2].file.name).name
    ]


def test_a_negative_ttl_stops_the_start_with_the_variables_name(run_manage: Any) -> None:
    result = run_manage("check", SAMLABEL_EXPORT_TTL_DAYS="-1")
    assert result.returncode != 0
    assert "SAMLABEL_EXPORT_TTL_DAYS=-1" in result.stderr
