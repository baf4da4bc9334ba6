"""Starting a job while the broker is down: a clear 503, and nothing left behind (no row
pending for ever, no stored upload). Before, the request answered 500 and the row stayed
"pending" with nothing to run it."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.urls import reverse

from tests.webapp.celery_processes import broker_for_this_process
from tests.webapp.factories_exports import make_dataset
from tests.webapp.factories_images import stored_files
from tests.webapp.factories_imports import coco_archive, post_import, zip_file
from webapp.exports import services as export_services
from webapp.exports.models import Export
from webapp.imports import services as import_services
from webapp.imports.models import DatasetImport

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_export_asked_for_while_the_broker_is_down_answers_503_and_leaves_no_row(
    make_project: Any, user_in: Any, api_client: Any, media_root: Path, redis_server: Any
) -> None:
    data = make_dataset(make_project())
    client = api_client(user_in(data.project, "reviewer"))
    redis_server.stop()

    with (
        mock.patch.object(export_services, "RUN_IN_REQUEST_UP_TO", 0),
        broker_for_this_process(redis_server.url),
    ):
        response = client.post(
            reverse("export-list", args=[data.project.pk]),
            {"format": "coco", "image_scope": "annotated"},
            format="json",
        )

    assert response.status_code == 503, response.content
    assert "job queue cannot be reached" in response.json()["detail"]
    assert not Export.objects.exists()


def test_an_import_sent_while_the_broker_is_down_answers_503_and_keeps_nothing(
    make_project: Any, user_in: Any, api_client: Any, media_root: Path, redis_server: Any
) -> None:
    project = make_project()
    client = api_client(user_in(project, "manager"))
    redis_server.stop()

    with (
        mock.patch.object(import_services, "RUN_IN_REQUEST_UP_TO_BYTES", 0),
        broker_for_this_process(redis_server.url),
    ):
        response = post_import(client, project, zip_file(coco_archive()), format="coco")

    assert response.status_code == 503, response.content
    assert "job queue cannot be reached" in response.json()["detail"]
    assert not DatasetImport.objects.exists()
    assert stored_files(media_root) == []
