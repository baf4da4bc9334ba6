"""A large import goes through a real Redis and a real Celery worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tests.webapp.celery_processes import broker_for_this_process, wait_for
from tests.webapp.factories_imports import coco_archive, post_import, zip_file
from webapp.annotations.models import Annotation
from webapp.imports import services
from webapp.imports.models import DatasetImport

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_queued_import_is_run_by_a_worker_and_its_status_says_so(
    make_project: Any, user_in: Any, api_client: Any, media_root: Path, redis_server: Any,
    start_worker: Any,
) -> None:  # fmt: skip
    project = make_project()
    client = api_client(user_in(project, "manager"))
    with (
        mock.patch.object(services, "RUN_IN_REQUEST_UP_TO_BYTES", 0),
        broker_for_this_process(redis_server.url),
    ):
        response = post_import(client, project, zip_file(coco_archive(4)))
    assert response.status_code == 202, response.json()

    start_worker(redis_server.url, media_root)
    # Done, and the upload removed (the worker's last step, after the status).
    finished = DatasetImport.objects.filter(pk=response.json()["id"], status="done", file="")
    wait_for(finished.exists, timeout=90, what="the worker to import the dataset")

    body = client.get(response.json()["url"]).json()
    assert body["result"]["images_created"] == 4
    assert body["progress_done"] == body["progress_total"] == 4
    assert Annotation.objects.filter(image__project=project).count() == 4
    assert not list((media_root / "imports").rglob("*.zip"))
