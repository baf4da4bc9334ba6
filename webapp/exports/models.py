"""Dataset exports: a zip of a project's images and annotations in a training format."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import OperationalError, models
from django.db.models import F
from django.utils import timezone

from webapp.core.jobs import StuckJobQuerySet
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
    """Which of the chosen images an export holds: only those with at least one
    non-empty annotation of a chosen class, or all of them."""

    ANNOTATED = "annotated"
    ALL = "all"


class ExportStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def export_path(instance: Export, filename: str) -> str:
    return f"exports/{instance.project_id}/{uuid.uuid4().hex}.zip"


class ExportQuerySet(StuckJobQuerySet):
    def failure_fields(self, attempts: int) -> dict[str, Any]:
        return {
            "error": f"The worker stopped {attempts} times while writing this export; "
            "start it again."
        }


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

    def record_progress(self, done: int, total: int) -> None:
        """Store how far the export is, in one short write of its own. Progress is for the
        page to show: a write that fails (the database busy past its timeout) is logged and
        skipped, never a reason to fail the export."""
        self.progress_done, self.progress_total = done, total
        try:
            Export.objects.filter(pk=self.pk).update(
                progress_done=done, progress_total=total, heartbeat_at=timezone.now()
            )
        except OperationalError as exc:
            log.warning("Export %s: progress %s/%s not stored (%s).", self.pk, done, total, exc)

    def finish(self, **fields: Any) -> None:
        """Save the final ``status`` (and ``error`` or ``file``) with the time."""
        for name, value in fields.items():
            setattr(self, name, value)
        self.finished_at = timezone.now()
        self.save(update_fields=[*fields, "finished_at"])

    @property
    def download_name(self) -> str:
        stamp = self.created_at.strftime("%Y%m%d-%H%M%S") if self.created_at else "export"
        return f"project{self.project_id}-{self.format}-{stamp}.zip"
