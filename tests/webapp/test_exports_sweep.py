"""The sweep for exports a lost message or a dead worker left behind: queued again, or
failed with a reason once the worker has stopped under them too often. Before it, an
export whose worker was killed stayed "running" for ever."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from webapp.core.jobs import MAX_ATTEMPTS
from webapp.exports import tasks
from webapp.exports.models import Export

pytestmark = pytest.mark.django_db

LONG_AGO = timedelta(hours=2)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Export ids sent to the broker (nothing is really sent)."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_export, "delay", lambda export_id: sent.append(export_id))
    return sent


def an_export(make_project: Any, **fields: Any) -> Export:
    return Export.objects.create(project=make_project(), format="coco", **fields)


def test_a_claim_counts_the_attempt_and_is_a_sign_of_life(make_project: Any) -> None:
    export = an_export(make_project, heartbeat_at=timezone.now() - LONG_AGO)

    assert export.claim()

    export.refresh_from_db()
    assert (export.status, export.attempts) == ("running", 1)
    assert timezone.now() - export.heartbeat_at < timedelta(minutes=1)
    assert not export.claim()  # a duplicate message does nothing


def test_an_export_whose_worker_died_is_queued_again(make_project: Any, queued: list[int]) -> None:
    export = an_export(make_project)
    export.claim()
    Export.objects.filter(pk=export.pk).update(heartbeat_at=timezone.now() - LONG_AGO)

    assert tasks.sweep_stuck_exports() == [export.pk]

    export.refresh_from_db()
    assert export.status == "pending"
    assert queued == [export.pk]
    assert export.claim()  # the next worker can take it
    assert Export.objects.get(pk=export.pk).attempts == 2


def test_a_pending_export_whose_message_was_lost_is_queued_again(
    make_project: Any, queued: list[int]
) -> None:
    export = an_export(make_project, heartbeat_at=timezone.now() - LONG_AGO)

    assert tasks.sweep_stuck_exports() == [export.pk]
    assert queued == [export.pk]


def test_exports_with_recent_progress_and_finished_ones_are_left_alone(
    make_project: Any, queued: list[int]
) -> None:
    running = an_export(make_project)
    running.claim()
    running.record_progress(200, 1000)
    Export.objects.filter(pk=running.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=5))
    done = an_export(make_project, status="done", heartbeat_at=timezone.now() - LONG_AGO)

    assert tasks.sweep_stuck_exports() == []
    assert queued == []
    assert Export.objects.get(pk=running.pk).status == "running"
    assert Export.objects.get(pk=done.pk).status == "done"


def test_an_export_its_worker_stopped_under_too_often_fails_with_the_reason(
    make_project: Any, queued: list[int]
) -> None:
    export = an_export(make_project, status="running", attempts=MAX_ATTEMPTS)
    Export.objects.filter(pk=export.pk).update(heartbeat_at=timezone.now() - LONG_AGO)

    assert tasks.sweep_stuck_exports() == []

    export.refresh_from_db()
    assert export.status == "failed"
    assert export.error == (
        f"The worker stopped {MAX_ATTEMPTS} times while writing this export; start it again."
    )
    assert export.finished_at is not None
    assert queued == []
