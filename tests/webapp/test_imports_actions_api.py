"""Cancelling, retrying and deleting dataset imports through the API: who may, and what
each does to the row, its worker, its stored upload and the project's data."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from tests.webapp.factories_images import stored_files
from tests.webapp.factories_imports import coco_archive
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.imports import tasks
from webapp.imports.datasets import run_import
from webapp.imports.models import SERVER_FAILURE, DatasetImport
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db

MAY_ACT = ["owner", "manager"]
MAY_NOT = [("reviewer", 403), ("annotator", 403), ("outsider", 404)]


@pytest.fixture
def project(make_project: Any, media_root: Path) -> Project:
    return make_project()


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_dataset_import, "delay", lambda pk: sent.append(pk))
    return sent


@pytest.fixture(autouse=True)
def no_encoding() -> Any:
    with mock.patch("webapp.imports.datasets.queue_encoding"):
        yield


def stored_import(project: Project, **fields: Any) -> DatasetImport:
    """A queued import of a 2-image COCO zip, its upload stored."""
    dataset_import = DatasetImport.objects.create(
        project=project, format="coco", original_name="big.zip", **fields
    )
    dataset_import.file.save("big.zip", ContentFile(coco_archive(2)), save=True)
    return dataset_import


def url(name: str, dataset_import: DatasetImport) -> str:
    return reverse(name, args=[dataset_import.project_id, dataset_import.pk])


@pytest.mark.parametrize("role", MAY_ACT)
def test_a_cancelled_pending_import_stores_nothing_and_can_be_started_again(
    project: Project, user_in: Any, api_client: Any, queued: list[int], role: str
) -> None:
    dataset_import = stored_import(project)
    client = api_client(user_in(project, role))

    response = client.post(url("api-project-import-cancel", dataset_import))
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["can_retry"]) == ("cancelled", True)
    tasks.run_dataset_import(dataset_import.pk)  # its message arrives: nothing happens
    assert not Image.objects.exists()

    response = client.post(url("api-project-import-retry", dataset_import))
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    assert queued == [dataset_import.pk]
    tasks.run_dataset_import(dataset_import.pk)
    body = client.get(url("api-project-import", dataset_import)).json()
    assert body["status"] == "done" and body["result"]["images_created"] == 2
    assert Annotation.objects.filter(image__project=project).count() == 2


def test_a_running_import_cancelled_stops_and_stores_nothing(
    project: Project, user_in: Any, api_client: Any, media_root: Path
) -> None:
    dataset_import = stored_import(project)
    assert dataset_import.claim()
    response = api_client(user_in(project, "manager")).post(
        url("api-project-import-cancel", dataset_import)
    )
    assert response.json()["status"] == "cancelled"

    with dataset_import.file.open("rb") as source:
        run_import(dataset_import, source)  # the worker goes on, and notices

    assert not Image.objects.exists() and not Annotation.objects.exists()
    dataset_import.refresh_from_db()
    assert dataset_import.status == "cancelled" and dataset_import.result is None
    # Only the upload is left, for a retry: no image file of the archive.
    assert [p.name for p in stored_files(media_root)] == [Path(dataset_import.file.name).name]


def test_an_import_refused_for_its_data_or_done_cannot_be_retried(
    project: Project, user_in: Any, api_client: Any, queued: list[int]
) -> None:
    client = api_client(user_in(project, "owner"))
    refused = stored_import(
        project,
        status="failed",
        finished_at=timezone.now(),
        problems=[{"record": "annotation 1", "field": "category_id", "problem": "unknown"}],
    )
    done = stored_import(project, status="done", finished_at=timezone.now())
    in_request = DatasetImport.objects.create(
        project=project,
        format="coco",
        original_name="small.json",
        status="failed",
        problems=[{"record": "import", "field": SERVER_FAILURE, "problem": "crash"}],
    )

    for dataset_import in (refused, done, in_request):
        response = client.post(url("api-project-import-retry", dataset_import))
        assert response.status_code == 409, dataset_import
        assert "send the file again" in response.json()["detail"]
    assert queued == []


def test_an_import_failed_on_our_side_is_retried_from_its_kept_upload(
    project: Project, user_in: Any, api_client: Any, queued: list[int]
) -> None:
    crashed = stored_import(
        project,
        status="failed",
        attempts=3,
        finished_at=timezone.now(),
        problems=[{"record": "import", "field": "worker", "problem": "the worker stopped"}],
    )
    response = api_client(user_in(project, "owner")).post(url("api-project-import-retry", crashed))

    assert response.status_code == 202
    assert response.json()["problems"] == []
    tasks.run_dataset_import(crashed.pk)
    crashed.refresh_from_db()
    assert (crashed.status, crashed.attempts, crashed.file.name) == ("done", 4, "")


def test_a_finished_import_cannot_be_cancelled(
    project: Project, user_in: Any, api_client: Any
) -> None:
    done = stored_import(project, status="done", finished_at=timezone.now())
    response = api_client(user_in(project, "owner")).post(url("api-project-import-cancel", done))
    assert response.status_code == 409
    assert DatasetImport.objects.get(pk=done.pk).status == "done"


@pytest.mark.parametrize("role", MAY_ACT)
def test_deleting_an_import_removes_its_record_and_upload_but_not_its_images(
    project: Project, user_in: Any, api_client: Any, media_root: Path, role: str,
    queued: list[int], django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    done = stored_import(project)
    tasks.run_dataset_import(done.pk)
    kept = stored_import(project, status="cancelled", finished_at=timezone.now())
    client = api_client(user_in(project, role))

    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(url("api-project-import", done)).status_code == 204
        assert client.delete(url("api-project-import", kept)).status_code == 204

    assert not DatasetImport.objects.exists()
    assert stored_files(media_root / "imports") == []
    assert Image.objects.filter(project=project).count() == 2


def test_deleting_a_running_import_stops_its_worker_with_nothing_stored(
    project: Project, user_in: Any, api_client: Any, media_root: Path
) -> None:
    dataset_import = stored_import(project)
    assert dataset_import.claim()
    response = api_client(user_in(project, "owner")).delete(
        url("api-project-import", dataset_import)
    )
    assert response.status_code == 204

    with dataset_import.file.open("rb") as source:
        run_import(dataset_import, source)

    assert not Image.objects.exists() and not DatasetImport.objects.exists()


@pytest.mark.parametrize(("role", "code"), MAY_NOT)
@pytest.mark.parametrize("action", ["cancel", "retry", "delete"])
def test_who_may_not_start_imports_may_not_cancel_retry_or_delete_them(
    project: Project, user_in: Any, api_client: Any, role: str, code: int, action: str,
    queued: list[int],
) -> None:  # fmt: skip
    status = "cancelled" if action == "retry" else "pending"
    dataset_import = stored_import(project, status=status)
    client = api_client(user_in(project, role))

    if action == "delete":
        response = client.delete(url("api-project-import", dataset_import))
    else:
        response = client.post(url(f"api-project-import-{action}", dataset_import))

    assert response.status_code == code
    assert DatasetImport.objects.get(pk=dataset_import.pk).status == status
    assert queued == []
