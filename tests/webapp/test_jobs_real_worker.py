"""Exports and imports mid-run with a real Redis and real Celery workers: an export
cancelled from the API stops and leaves no zip, and a job whose worker is killed
(SIGKILL, no clean-up) is swept and finished by the next worker. Before, a killed
worker's export stayed "running" for ever, also after a new worker started."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.urls import reverse

from tests.webapp.celery_processes import broker_for_this_process, wait_for
from tests.webapp.factories_images import stored_files
from tests.webapp.factories_imports import coco_archive, post_import, zip_file
from tests.webapp.factories_jobs import make_big_project
from webapp.annotations.models import Annotation
from webapp.exports import services
from webapp.exports.models import Export
from webapp.images.models import Image
from webapp.imports import services as import_services
from webapp.imports.models import DatasetImport

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Each instance is a PNG of its own: about 6 s for the 4,000 of make_big_project on one
# core, with progress every 200.
FORMAT = "masks"


def export_row(export_id: int) -> Export:
    return Export.objects.get(pk=export_id)


def start_export(client: Any, project_id: int) -> int:
    """POST an export that goes to the worker (this process publishes to the test's
    Redis: see the ``publish_to`` fixture)."""
    with mock.patch.object(services, "RUN_IN_REQUEST_UP_TO", 0):
        response = client.post(
            reverse("export-list", args=[project_id]),
            {"format": FORMAT, "image_scope": "annotated"},
            format="json",
        )
    assert response.status_code == 202, response.content
    return int(response.json()["id"])


@pytest.fixture
def publish_to(redis_server: Any) -> Any:
    """This process's tasks go to the test's Redis for the whole test (one switch: the
    pool cannot be swapped twice in one test)."""
    with broker_for_this_process(redis_server.url):
        yield redis_server.url


def wait_until_mid_run(export_id: int) -> None:
    wait_for(
        lambda: export_row(export_id).progress_done >= 200,
        timeout=90,
        what="the worker to be part-way through the export",
    )


def test_an_export_cancelled_mid_run_stops_leaves_no_zip_and_can_be_retried(
    make_project: Any, user_in: Any, api_client: Any, media_root: Path, redis_server: Any,
    start_worker: Any, publish_to: str,
) -> None:  # fmt: skip
    project = make_project()
    total = make_big_project(project)
    client = api_client(user_in(project, "reviewer"))
    worker = start_worker(redis_server.url, media_root)
    export_id = start_export(client, project.pk)
    wait_until_mid_run(export_id)

    response = client.post(reverse("export-cancel", args=[project.pk, export_id]))
    assert response.status_code == 200
    wait_for(
        lambda: "stopped and left no file" in worker.text(),
        timeout=30,
        what="the worker to notice the cancel",
    )

    export = export_row(export_id)
    assert export.status == "cancelled"
    assert export.progress_done < total  # it stopped part-way
    assert not export.file and stored_files(media_root / "exports") == []
    listed = client.get(reverse("export-list", args=[project.pk])).json()
    assert [(e["id"], e["status"], e["download_url"]) for e in listed["results"]] == [
        (export_id, "cancelled", None)
    ]

    # The same worker takes the retry and finishes it.
    retried = client.post(reverse("export-retry", args=[project.pk, export_id]))
    assert retried.status_code == 202
    wait_for(lambda: export_row(export_id).status == "done", timeout=90, what="the retried export")
    assert export_row(export_id).progress_done == total
    assert len(stored_files(media_root / "exports")) == 1


def test_an_export_whose_worker_is_killed_mid_run_is_finished_by_the_next_worker(
    make_project: Any, user_in: Any, api_client: Any, media_root: Path, redis_server: Any,
    start_worker: Any, publish_to: str,
) -> None:  # fmt: skip
    project = make_project()
    total = make_big_project(project)
    client = api_client(user_in(project, "reviewer"))
    first = start_worker(redis_server.url, media_root)
    export_id = start_export(client, project.pk)
    wait_until_mid_run(export_id)

    first.kill()
    assert export_row(export_id).status == "running"  # what it stayed for ever before

    # The next worker runs the beat too: a sweep every second finds the export without
    # a sign of life for 3 s and queues it again; this worker then writes it whole.
    start_worker(
        redis_server.url,
        media_root,
        beat=True,
        SAMLABEL_SWEEP_EVERY_SECONDS="1",
        SAMLABEL_STUCK_AFTER_SECONDS="3",
    )
    wait_for(
        lambda: export_row(export_id).status not in ("pending", "running"),
        timeout=120,
        what="the export to end after its worker was killed",
    )

    export = export_row(export_id)
    assert (export.status, export.error, export.attempts) == ("done", "", 2)
    assert export.progress_done == total
    download = client.get(reverse("export-download", args=[project.pk, export_id]))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert archive.testzip() is None
    assert sum(name.endswith(".png") and "mask" in name for name in archive.namelist()) >= total
    # Only the finished zip: the killed attempt wrote to a temporary file that died with it.
    assert len(stored_files(media_root / "exports")) == 1


def test_an_import_whose_worker_is_killed_mid_run_is_finished_once_by_the_next_worker(
    make_project: Any, user_in: Any, api_client: Any, media_root: Path, redis_server: Any,
    start_worker: Any, publish_to: str,
) -> None:  # fmt: skip
    project = make_project()
    client = api_client(user_in(project, "manager"))
    count = 600
    first = start_worker(redis_server.url, media_root)
    with mock.patch.object(import_services, "RUN_IN_REQUEST_UP_TO_BYTES", 0):
        response = post_import(client, project, zip_file(coco_archive(count)))
    assert response.status_code == 202, response.content
    import_id = response.json()["id"]
    wait_for(
        lambda: DatasetImport.objects.get(pk=import_id).progress_done > 0,
        timeout=90,
        what="the worker to be part-way through the import",
    )

    first.kill()
    assert DatasetImport.objects.get(pk=import_id).status == "running"

    start_worker(
        redis_server.url,
        media_root,
        beat=True,
        SAMLABEL_SWEEP_EVERY_SECONDS="1",
        SAMLABEL_STUCK_AFTER_SECONDS="3",
    )
    wait_for(
        lambda: DatasetImport.objects.get(pk=import_id).status not in ("pending", "running"),
        timeout=120,
        what="the import to end after its worker was killed",
    )

    dataset_import = DatasetImport.objects.get(pk=import_id)
    assert (dataset_import.status, dataset_import.attempts) == ("done", 2)
    assert dataset_import.result["images_created"] == count
    # Stored once: the killed attempt's transaction never committed.
    assert Image.objects.filter(project=project).count() == count
    assert Annotation.objects.filter(image__project=project).count() == count
