"""The beat sweep that gives back images whose holder's lease has passed."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from tests.webapp.conftest import MakeImageRow, MakeProject, MakeUser
from webapp.celery import app as celery_app
from webapp.workflow.models import Event, WorkItem, WorkState
from webapp.workflow.tasks import release_expired_leases


def test_the_beat_schedule_runs_the_lease_sweep_every_minute() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["release-expired-leases"]
    assert entry["task"] == "webapp.workflow.tasks.release_expired_leases"
    assert entry["schedule"] == 60
    celery_app.loader.import_default_modules()
    assert entry["task"] in celery_app.tasks


@pytest.mark.django_db
def test_the_sweep_gives_back_an_abandoned_image_and_logs_how_many(
    make_project: MakeProject, make_user: MakeUser, make_image_row: MakeImageRow,
    caplog: Any,
) -> None:  # fmt: skip
    ann = make_user(username="ann")
    project = make_project(owner=ann)
    abandoned = make_image_row(project, name="a.png", status="ready")
    held = make_image_row(project, name="b.png", status="ready")
    now = timezone.now()
    WorkItem.objects.filter(pk=abandoned.pk).update(
        state=WorkState.ANNOTATING, annotator=ann, lease_expires_at=now - timedelta(minutes=1)
    )
    WorkItem.objects.filter(pk=held.pk).update(
        state=WorkState.ANNOTATING, annotator=ann, lease_expires_at=now + timedelta(minutes=20)
    )

    with caplog.at_level(logging.INFO, logger="webapp.workflow.tasks"):
        assert release_expired_leases.apply().get() == 1
    assert "gave back 1 image" in caplog.text
    assert WorkItem.objects.get(pk=abandoned.pk).state == WorkState.NEW
    assert WorkItem.objects.get(pk=held.pk).state == WorkState.ANNOTATING
    assert Event.objects.filter(action="lease_expired", image=abandoned).count() == 1
    # A second sweep finds nothing more to give back.
    assert release_expired_leases.apply().get() == 0
