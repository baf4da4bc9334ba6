"""Cancelling, retrying and deleting exports through the API: who may, what each does to
the row, its worker and its zip. Before, an export could be none of these: one a worker
had dropped stayed "running" for ever, and every zip stayed on disk."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from tests.webapp.factories_exports import make_dataset
from tests.webapp.factories_images import stored_files
from webapp.exports import tasks
from webapp.exports.exporter import store_export
from webapp.exports.models import Export
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db

MAY_ACT = ["owner", "manager", "reviewer"]
MAY_NOT = [("annotator", 403), ("viewer", 403), ("outsider", 404)]


@pytest.fixture
def project(make_project: Any, media_root: Path) -> Project:
    return make_dataset(make_project()).project


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Export ids sent to the broker (nothing is really sent)."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_export, "delay", lambda export_id: sent.append(export_id))
    return sent


def export_in(project: Project, **fields: Any) -> Export:
    return Export.objects.create(project=project, format="coco", **fields)


def done_export(project: Project, finished_at: Any = None) -> Export:
    export = export_in(project, status="done", finished_at=finished_at or timezone.now())
    export.file.save("x.zip", ContentFile(b"PK zip"), save=True)
    return export


def url(name: str, export: Export) -> str:
    return reverse(name, args=[export.project_id, export.pk])


@pytest.mark.parametrize("role", MAY_ACT)
def test_a_pending_export_cancelled_is_never_written(
    project: Project, user_in: Any, api_client: Any, media_root: Path, role: str
) -> None:
    export = export_in(project)
    response = api_client(user_in(project, role)).post(url("export-cancel", export))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    tasks.run_export(export.pk)  # its message arrives later: nothing happens
    export.refresh_from_db()
    assert export.status == "cancelled" and not export.file
    assert stored_files(media_root / "exports") == []


def test_a_running_export_cancelled_stops_and_stores_no_zip(
    project: Project, user_in: Any, api_client: Any, media_root: Path
) -> None:
    export = export_in(project)
    assert export.claim()  # a worker holds it

    response = api_client(user_in(project, "reviewer")).post(url("export-cancel", export))
    assert response.json()["status"] == "cancelled"
    store_export(export)  # the worker goes on, and notices at its first progress write

    export.refresh_from_db()
    assert (export.status, export.error, export.file.name) == ("cancelled", "", "")
    assert stored_files(media_root / "exports") == []


def test_an_export_cancelled_after_its_zip_was_written_keeps_no_file(
    project: Project, media_root: Path
) -> None:
    export = export_in(project)
    assert export.claim()
    real_finish = Export.finish

    def cancelled_first(self: Export, **fields: Any) -> bool:
        Export.objects.cancel(self.pk)  # the user clicks as the last annotation is written
        return real_finish(self, **fields)

    with mock.patch.object(Export, "finish", cancelled_first):
        store_export(export)

    assert Export.objects.get(pk=export.pk).status == "cancelled"
    assert stored_files(media_root / "exports") == []


def test_a_finished_export_cannot_be_cancelled(
    project: Project, user_in: Any, api_client: Any
) -> None:
    export = done_export(project)
    response = api_client(user_in(project, "owner")).post(url("export-cancel", export))

    assert response.status_code == 409
    assert "This export is done" in response.json()["detail"]
    assert Export.objects.get(pk=export.pk).status == "done"


@pytest.mark.parametrize("role", MAY_ACT)
def test_a_cancelled_export_retried_is_queued_and_written_again(
    project: Project, user_in: Any, api_client: Any, queued: list[int], role: str
) -> None:
    export = export_in(project, status="cancelled", attempts=1, finished_at=timezone.now())

    response = api_client(user_in(project, role)).post(url("export-retry", export))

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["finished_at"], body["error"]) == ("pending", None, "")
    assert queued == [export.pk]
    tasks.run_export(export.pk)
    export.refresh_from_db()
    assert (export.status, export.attempts) == ("done", 2)
    assert export.file


def test_a_failed_export_retried_gets_its_attempts_again_from_the_sweep(
    project: Project, user_in: Any, api_client: Any, queued: list[int]
) -> None:
    # The sweep failed it after three dead workers; a retry must not fail at once again.
    export = export_in(project, status="failed", attempts=3, error="The worker stopped 3 times")
    api_client(user_in(project, "owner")).post(url("export-retry", export))
    Export.objects.filter(pk=export.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    assert tasks.sweep_stuck_exports() == [export.pk]
    assert Export.objects.get(pk=export.pk).status == "pending"


def test_a_done_or_running_export_cannot_be_retried(
    project: Project, user_in: Any, api_client: Any, queued: list[int]
) -> None:
    client = api_client(user_in(project, "owner"))
    running = export_in(project, status="running")

    assert client.post(url("export-retry", done_export(project))).status_code == 409
    assert client.post(url("export-retry", running)).status_code == 409
    assert queued == []


def test_a_retry_while_the_broker_is_down_answers_503_and_leaves_the_export_as_it_was(
    project: Project, user_in: Any, api_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(export_id: int) -> None:
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.run_export, "delay", refuse)
    export = export_in(project, status="failed", error="boom", finished_at=timezone.now())

    response = api_client(user_in(project, "owner")).post(url("export-retry", export))

    assert response.status_code == 503
    assert "job queue cannot be reached" in response.json()["detail"]
    export.refresh_from_db()
    assert (export.status, export.error) == ("failed", "boom")


@pytest.mark.parametrize("role", MAY_ACT)
def test_deleting_an_export_removes_its_row_and_then_its_zip(
    project: Project, user_in: Any, api_client: Any, media_root: Path, role: str,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    export = done_export(project)
    assert len(stored_files(media_root / "exports")) == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(user_in(project, role)).delete(url("export-detail", export))

    assert response.status_code == 204
    assert not Export.objects.filter(pk=export.pk).exists()
    assert stored_files(media_root / "exports") == []


def test_deleting_a_running_export_stops_its_worker_with_no_zip_left(
    project: Project, user_in: Any, api_client: Any, media_root: Path
) -> None:
    export = export_in(project)
    assert export.claim()

    response = api_client(user_in(project, "reviewer")).delete(url("export-detail", export))
    assert response.status_code == 204
    store_export(export)  # the worker finds its row gone

    assert not Export.objects.exists()
    assert stored_files(media_root / "exports") == []


@pytest.mark.parametrize(("role", "code"), MAY_NOT)
@pytest.mark.parametrize("action", ["cancel", "retry", "delete"])
def test_who_may_not_start_exports_may_not_cancel_retry_or_delete_them(
    project: Project, user_in: Any, api_client: Any, role: str, code: int, action: str,
    queued: list[int],
) -> None:  # fmt: skip
    export = export_in(project, status="failed" if action == "retry" else "pending")
    client = api_client(user_in(project, role))

    if action == "delete":
        response = client.delete(url("export-detail", export))
    else:
        response = client.post(url(f"export-{action}", export))

    assert response.status_code == code
    assert Export.objects.get(pk=export.pk).status == export.status
    assert queued == []


def test_an_export_of_another_project_is_404_for_every_action(
    project: Project, make_project: Any, user_in: Any, api_client: Any
) -> None:
    other = done_export(make_project())
    client = api_client(user_in(project, "owner"))
    for name in ("export-cancel", "export-retry"):
        assert client.post(reverse(name, args=[project.pk, other.pk])).status_code == 404
    assert client.delete(reverse("export-detail", args=[project.pk, other.pk])).status_code == 404
    assert Export.objects.filter(pk=other.pk).exists()
