"""Imports too large for the request: queued after commit, run by the task from the
stored upload with progress on the status row, and swept when a worker died."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from tests.webapp.factories_images import stored_files
from tests.webapp.factories_imports import coco_archive, import_url, post_import, zip_file
from webapp.annotations.models import Annotation
from webapp.core.jobs import MAX_ATTEMPTS
from webapp.images.models import Image
from webapp.imports import services
from webapp.imports.datasets import run_import
from webapp.imports.models import DatasetImport, ImportStatus
from webapp.imports.tasks import run_dataset_import, sweep_stuck_imports
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(make_project: Any, media_root: Path) -> Project:
    return make_project(name="Queued imports")


@pytest.fixture
def owner(project: Project, user_in: Any, api_client: Any) -> Any:
    return api_client(user_in(project, "owner"))


def queue(owner: Any, project: Project, archive: bytes, capture: Any) -> tuple[Any, Any]:
    """POST ``archive`` with the in-request limit at 0; (response, the mocked delay)."""
    with (
        mock.patch.object(services, "RUN_IN_REQUEST_UP_TO_BYTES", 0),
        mock.patch("webapp.imports.tasks.run_dataset_import.delay") as delay,
        capture(execute=True),
    ):
        response = post_import(owner, project, zip_file(archive))
    return response, delay


def test_a_large_import_is_queued_and_the_task_imports_it_with_progress(
    owner: Any, project: Project, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    response, delay = queue(owner, project, coco_archive(3), django_capture_on_commit_callbacks)

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "pending" and body["result"] is None
    delay.assert_called_once_with(body["id"])
    assert not Image.objects.exists()
    upload = DatasetImport.objects.get(pk=body["id"]).file.name
    assert (media_root / upload).exists()
    assert owner.get(body["url"]).json()["status"] == "pending"

    with (
        mock.patch("webapp.imports.datasets.queue_encoding") as encode,
        django_capture_on_commit_callbacks(execute=True),
    ):
        run_dataset_import(body["id"])

    status = owner.get(import_url(project, body["id"])).json()
    assert status["status"] == "done"
    assert status["result"] == {
        "images_created": 3,
        "images_matched": 0,
        "label_classes_created": 1,
        "annotations_created": 3,
    }
    assert (status["stage"], status["progress_done"], status["progress_total"]) == (
        "storing",
        3,
        3,
    )
    assert status["finished_at"] is not None
    assert Annotation.objects.filter(image__project=project).count() == 3
    assert encode.call_count == 3
    assert not (media_root / upload).exists()  # the upload is removed once imported


def test_a_queued_import_with_a_bad_record_fails_with_its_problems_and_stores_nothing(
    owner: Any, project: Project, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    archive = coco_archive(2, bad_annotation=True)
    response, _ = queue(owner, project, archive, django_capture_on_commit_callbacks)

    run_dataset_import(response.json()["id"])

    status = owner.get(response.json()["url"]).json()
    assert status["status"] == "failed"
    assert [p["record"] for p in status["problems"]] == ["annotations[1]"]
    assert not Image.objects.exists()
    assert stored_files(media_root) == []


def test_the_task_does_nothing_for_a_claimed_or_missing_import(
    owner: Any, project: Project, django_capture_on_commit_callbacks: Any
) -> None:
    response, _ = queue(owner, project, coco_archive(1), django_capture_on_commit_callbacks)
    dataset_import = DatasetImport.objects.get(pk=response.json()["id"])
    assert dataset_import.claim()

    run_dataset_import(dataset_import.pk)  # claimed by someone else: nothing
    run_dataset_import(10**9)  # gone: a warning, no error

    dataset_import.refresh_from_db()
    assert dataset_import.status == ImportStatus.RUNNING
    assert not Image.objects.exists()


def test_an_attempt_that_lost_its_claim_stores_nothing(
    owner: Any, project: Project, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    response, _ = queue(owner, project, coco_archive(2), django_capture_on_commit_callbacks)
    dataset_import = DatasetImport.objects.get(pk=response.json()["id"])
    assert dataset_import.claim()
    # Meanwhile the sweep gave the import to a second attempt.
    DatasetImport.objects.filter(pk=dataset_import.pk).update(attempts=2)

    with dataset_import.file.open("rb") as source:
        run_import(dataset_import, source)

    assert not Image.objects.exists() and not Annotation.objects.exists()
    dataset_import.refresh_from_db()
    assert dataset_import.status == ImportStatus.RUNNING and dataset_import.result is None
    names = {p.name for p in stored_files(media_root)}
    assert names == {Path(dataset_import.file.name).name}  # only the upload


def stuck_import(project: Project, status: str, attempts: int) -> DatasetImport:
    dataset_import = DatasetImport.objects.create(
        project=project,
        format="coco",
        original_name="big.zip",
        status=status,
        attempts=attempts,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    dataset_import.file.save("big.zip", ContentFile(coco_archive(1)))
    return dataset_import


def test_the_sweep_queues_stuck_imports_again_and_fails_those_out_of_attempts(
    project: Project, media_root: Path
) -> None:
    lost_message = stuck_import(project, ImportStatus.PENDING, 0)
    dead_worker = stuck_import(project, ImportStatus.RUNNING, 1)
    out_of_attempts = stuck_import(project, ImportStatus.RUNNING, MAX_ATTEMPTS)
    fresh = DatasetImport.objects.create(
        project=project, format="coco", original_name="new.zip", status=ImportStatus.RUNNING
    )

    with mock.patch("webapp.imports.tasks.run_dataset_import.delay") as delay:
        requeued = sweep_stuck_imports()

    assert sorted(requeued) == sorted([lost_message.pk, dead_worker.pk])
    assert sorted(c.args[0] for c in delay.call_args_list) == sorted(requeued)
    states = dict(DatasetImport.objects.values_list("pk", "status"))
    assert states[dead_worker.pk] == ImportStatus.PENDING
    assert states[fresh.pk] == ImportStatus.RUNNING
    assert states[out_of_attempts.pk] == ImportStatus.FAILED
    out_of_attempts.refresh_from_db()
    assert "stopped 3 times" in out_of_attempts.problems[0]["problem"]
    # Its upload is kept so that a manager can start it again (until it expires).
    assert out_of_attempts.can_retry

    # The re-queued import runs as its own attempt.
    with mock.patch("webapp.imports.datasets.queue_encoding"):
        run_dataset_import(dead_worker.pk)
    dead_worker.refresh_from_db()
    assert (dead_worker.status, dead_worker.attempts) == (ImportStatus.DONE, 2)
