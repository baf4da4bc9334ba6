"""A large export goes through a real Redis and a real Celery worker."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.urls import reverse

from tests.webapp.celery_processes import broker_for_this_process, wait_for
from tests.webapp.factories_exports import make_dataset
from webapp.exports import services
from webapp.exports.models import Export

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_queued_export_is_written_by_a_worker_and_downloadable(
    make_project: Any, user_in: Any, api_client: Any, media_root: Path, redis_server: Any,
    start_worker: Any,
) -> None:  # fmt: skip
    data = make_dataset(make_project())
    client = api_client(user_in(data.project, "reviewer"))
    with (
        mock.patch.object(services, "RUN_IN_REQUEST_UP_TO", 0),
        broker_for_this_process(redis_server.url),
    ):
        response = client.post(
            reverse("export-list", args=[data.project.pk]),
            {"format": "voc", "image_scope": "annotated"},
            format="json",
        )
    assert response.status_code == 202

    start_worker(redis_server.url, media_root)
    wait_for(
        lambda: Export.objects.filter(pk=response.data["id"], status="done").exists(),
        timeout=60,
        what="the worker to write the export",
    )

    download = client.get(reverse("export-download", args=[data.project.pk, response.data["id"]]))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert "class_names.txt" in archive.namelist()
    assert Export.objects.get(pk=response.data["id"]).progress_done == 4
