"""Dataset imports that run on a worker: one row per import, its status and progress.

The row is the source of truth, as for image encoding: a task takes its id, claims it
with a conditional update, and records the outcome only while it still holds that claim,
in the same transaction that stores the dataset. A sweep (:meth:`ImportQuerySet.requeue_stuck`)
queues again what a lost message or a dead worker left behind.

A cancel (status ``cancelled``) or a delete takes the import from its worker, which
notices at its next progress write, or at the latest when it would record success, and
stores nothing: the dataset's rows commit with the status or not at all. A cancelled
import, and one that failed on our side, keep their upload so that a user can start them
again, until SAMLABEL_EXPORT_TTL_DAYS after they finished.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from webapp.core.jobs import ACTIVE, StuckJobQuerySet
from webapp.projects.models import Project

# Progress is written at most this often (seconds), and at the end of each stage.
PROGRESS_EVERY_SECONDS = 0.5


class ImportStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


# The ``field`` of the problem recorded when an import fails for a reason on our side.
SERVER_FAILURE = "server"
WORKER_FAILURE = "worker"


class ImportLost(Exception):
    """The worker no longer holds the import's claim: it was cancelled or deleted, or the
    sweep gave it to another attempt."""


def upload_path(instance: DatasetImport, filename: str) -> str:
    """Stored names never come from the user: ``imports/<project>/<uuid>.<ext>``."""
    ext = "zip" if filename.lower().endswith(".zip") else "json"
    return f"imports/{instance.project_id}/{uuid.uuid4().hex}.{ext}"


class ImportQuerySet(StuckJobQuerySet):
    def failure_fields(self, attempts: int) -> dict[str, Any]:
        return {
            "problems": [
                {
                    "record": "import",
                    "field": WORKER_FAILURE,
                    "problem": f"the worker stopped {attempts} times; "
                    "nothing was stored, start the import again",
                }
            ]
        }

    def outcome_fields(self) -> dict[str, Any]:
        return {"result": None, "problems": [], "stage": "", "progress_done": 0}

    def upload_expired(self, now: datetime | None = None) -> ImportQuerySet:
        """Finished more than SAMLABEL_EXPORT_TTL_DAYS ago (none when it is 0): their
        uploads need not be kept for a retry any longer."""
        days = settings.SAMLABEL_EXPORT_TTL_DAYS
        if not days:
            return self.none()
        return self.finished_before((now or timezone.now()) - timedelta(days=days))


class DatasetImport(models.Model):
    """One dataset import. ``file``: the uploaded dataset while a worker has yet to read
    it (removed once the import is over; blank for imports run in the request).
    ``stage`` and ``progress_done`` of ``progress_total``: images checked, then stored.
    ``result``: ``{"images_created", "images_matched", "label_classes_created",
    "annotations_created"}`` once done; ``problems``: ``[{"record", "field",
    "problem"}, ...]`` when refused."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dataset_imports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    format = models.CharField(max_length=10)
    original_name = models.CharField(max_length=255)
    create_missing_classes = models.BooleanField(default=True)
    file = models.FileField(upload_to=upload_path, blank=True)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    stage = models.CharField(max_length=20, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    problems = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # ``attempts`` when a user last started it again: the sweep counts attempts since.
    retried_at_attempt = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ImportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.format} import of {self.original_name} into {self.project}"

    @property
    def failed_on_our_side(self) -> bool:
        """Failed for a reason in the server (a crash, a worker that kept stopping), not
        in the user's data."""
        return self.status == ImportStatus.FAILED and any(
            p.get("field") in (SERVER_FAILURE, WORKER_FAILURE) for p in self.problems
        )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def keeps_upload(self) -> bool:
        """Whether its upload is still needed: while it runs, and after a cancel or a
        failure on our side, for a retry. Done imports and refused data need it no more."""
        return self.status in (*ACTIVE, ImportStatus.CANCELLED) or self.failed_on_our_side

    @property
    def can_retry(self) -> bool:
        """Failed on our side or cancelled, with its upload still stored."""
        return bool(self.file) and (
            self.status == ImportStatus.CANCELLED or self.failed_on_our_side
        )

    def claim(self) -> bool:
        """Move pending -> running if nobody else did; True when this caller won (and
        ``attempts`` counts this attempt). A conditional UPDATE, so a duplicate or
        re-delivered task does nothing."""
        claimed = DatasetImport.objects.filter(pk=self.pk, status=ImportStatus.PENDING).update(
            status=ImportStatus.RUNNING,
            attempts=F("attempts") + 1,
            heartbeat_at=timezone.now(),
        )
        if claimed:
            self.refresh_from_db(fields=["status", "attempts", "heartbeat_at"])
        return bool(claimed)

    def _held(self) -> models.QuerySet[DatasetImport]:
        """This row, only while this attempt still holds the claim."""
        return DatasetImport.objects.filter(
            pk=self.pk, status=ImportStatus.RUNNING, attempts=self.attempts
        )

    def record_progress(self, stage: str, done: int, total: int) -> None:
        """Write the progress (and so the heartbeat), at most every half second and at
        the end of each stage; raise :class:`ImportLost` when this attempt no longer holds
        the import (cancelled, deleted, taken over)."""
        now = timezone.now()
        recent = (now - self.heartbeat_at).total_seconds() < PROGRESS_EVERY_SECONDS
        if recent and stage == self.stage and done < total:
            return
        held = self._held().update(
            stage=stage, progress_done=done, progress_total=total, heartbeat_at=now
        )
        if not held:
            raise ImportLost(f"import {self.pk} is no longer held by this worker")
        self.stage, self.progress_done, self.progress_total = stage, done, total
        self.heartbeat_at = now

    def mark_done(self, result: dict[str, int]) -> None:
        """Record success while this attempt holds the claim; raise :class:`ImportLost`
        otherwise. Called inside the transaction that stores the dataset, so the rows
        and the status commit together or not at all."""
        if not self._held().update(
            status=ImportStatus.DONE, result=result, problems=[], finished_at=timezone.now()
        ):
            raise ImportLost(f"import {self.pk} is no longer held by this worker")
        self.status, self.result = ImportStatus.DONE, result

    def mark_failed(self, problems: list[dict[str, Any]]) -> bool:
        """Record the refusal while this attempt holds the claim; True if recorded."""
        failed = self._held().update(
            status=ImportStatus.FAILED, problems=problems, finished_at=timezone.now()
        )
        if failed:
            self.status, self.problems = ImportStatus.FAILED, problems
        return bool(failed)

    def discard_upload(self) -> None:
        """Delete the stored upload (up to the archive limit) once no attempt needs it."""
        if self.file:
            name = self.file.name
            DatasetImport.objects.filter(pk=self.pk).update(file="")
            self.file.storage.delete(name)
            self.file = ""

    def delete_with_upload(self) -> None:
        """Delete this import's row and, once committed, its stored upload. The images
        and annotations it brought in stay: they are the project's now. One still pending
        or running stops at its next progress write and stores nothing."""
        name = self.file.name if self.file else ""
        storage = self.file.storage
        DatasetImport.objects.filter(pk=self.pk).delete()
        if name:
            transaction.on_commit(lambda: storage.delete(name))
