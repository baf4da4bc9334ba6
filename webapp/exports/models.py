"""Dataset exports: a zip of a project's images and annotations in a training format."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import OperationalError, models, transaction
from django.db.models import F
from django.utils import timezone

from webapp.core.jobs import ACTIVE, StuckJobQuerySet
from webapp.projects.models import Project

log = logging.getLogger(__name__)


class ExportFormat(models.TextChoices):
    COCO = "coco", "COCO instance segmentation"
    YOLO = "yolo", "Ultralytics YOLO segmentation"
    VOC = "voc", "Pascal VOC segmentation"
    MASKS = "masks", "One PNG per instance"


class MaskFormat(models.TextChoices):
    RLE = "rle"
    POLYGON = "polygon"


class ImageScope(models.TextChoices):
    """Which of the chosen images an export holds: only those a reviewer accepted (the
    default where review is on), only those with at least one non-empty annotation of a
    chosen class, or all of them."""

    ACCEPTED = "accepted"
    ANNOTATED = "annotated"
    ALL = "all"


class ExportStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ExportLost(Exception):
    """The worker no longer holds the export: it was cancelled or deleted, or the sweep
    gave it to another attempt."""


def export_path(instance: Export, filename: str) -> str:
    return f"exports/{instance.project_id}/{uuid.uuid4().hex}.zip"


class ExportQuerySet(StuckJobQuerySet):
    def failure_fields(self, attempts: int) -> dict[str, Any]:
        return {
            "error": f"The worker stopped {attempts} times while writing this export; "
            "start it again."
        }

    def outcome_fields(self) -> dict[str, Any]:
        return {"error": "", "progress_done": 0}

    def expired(self, now: datetime | None = None) -> ExportQuerySet:
        """Exports finished more than SAMLABEL_EXPORT_TTL_DAYS ago (none when it is 0)."""
        days = settings.SAMLABEL_EXPORT_TTL_DAYS
        if not days:
            return self.none()
        return self.finished_before((now or timezone.now()) - timedelta(days=days))

    def delete_with_files(self) -> int:
        """Delete these exports and, once the deletion is committed, their zips; how many.
        A worker writing one of them stops at its next progress write."""
        names = [name for name in self.values_list("file", flat=True) if name]
        count, _ = self.delete()
        storage = Export._meta.get_field("file").storage
        transaction.on_commit(lambda: [storage.delete(name) for name in names])
        return count


class Export(models.Model):
    """``options``: ``{"mask_format": "rle"|"polygon", "include_images": bool,
    "image_scope": "annotated"|"all", "val_fraction": float, "seed": int,
    "label_classes": [id, ...] | null, "images": [id, ...] | null}`` (null: all).
    ``progress_done`` of ``progress_total`` annotations have been written."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    format = models.CharField(max_length=10, choices=ExportFormat.choices)
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.PENDING
    )
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=export_path, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Claims so far (a worker that died under the export leaves it to the sweep), and the
    # last sign of life: the claim, then each progress write.
    attempts = models.PositiveSmallIntegerField(default=0)
    retried_at_attempt = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(default=timezone.now)

    objects = ExportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.format} export of {self.project}"

    def claim(self) -> bool:
        """Move pending -> running if nobody else did; True when this caller won.

        A conditional UPDATE, so a duplicate or re-delivered task does nothing.
        """
        now = timezone.now()
        claimed = Export.objects.filter(pk=self.pk, status=ExportStatus.PENDING).update(
            status=ExportStatus.RUNNING, attempts=F("attempts") + 1, heartbeat_at=now
        )
        if claimed:
            self.status, self.heartbeat_at = ExportStatus.RUNNING, now
            self.refresh_from_db(fields=["attempts"])
        return bool(claimed)

    def _held(self) -> models.QuerySet[Export]:
        """This row, only while this attempt still holds the claim (not cancelled, not
        deleted, not given by the sweep to a newer attempt)."""
        return Export.objects.filter(
            pk=self.pk, status=ExportStatus.RUNNING, attempts=self.attempts
        )

    def record_progress(self, done: int, total: int) -> None:
        """Store how far the export is, in one short write of its own; raise
        :class:`ExportLost` when this attempt no longer holds the export (cancelled,
        deleted). Progress is for the page to show: a write that fails (the database busy
        past its timeout) is logged and skipped, never a reason to fail the export."""
        self.progress_done, self.progress_total = done, total
        try:
            held = self._held().update(
                progress_done=done, progress_total=total, heartbeat_at=timezone.now()
            )
        except OperationalError as exc:
            log.warning("Export %s: progress %s/%s not stored (%s).", self.pk, done, total, exc)
            return
        if not held:
            raise ExportLost(f"export {self.pk} is no longer held by this worker")

    def finish(self, **fields: Any) -> bool:
        """Save the final ``status`` (and ``error`` or ``file``) with the time, if this
        attempt still holds the export; True when saved."""
        now = timezone.now()
        if not self._held().update(**fields, finished_at=now):
            return False
        for name, value in fields.items():
            setattr(self, name, value)
        self.finished_at = now
        return True

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def expires_at(self) -> datetime | None:
        """When the expiry task deletes this export (and its zip); None while it runs or
        when exports never expire (SAMLABEL_EXPORT_TTL_DAYS=0)."""
        days = settings.SAMLABEL_EXPORT_TTL_DAYS
        if not days or self.finished_at is None:
            return None
        return self.finished_at + timedelta(days=days)

    @property
    def download_name(self) -> str:
        stamp = self.created_at.strftime("%Y%m%d-%H%M%S") if self.created_at else "export"
        return f"project{self.project_id}-{self.format}-{stamp}.zip"
