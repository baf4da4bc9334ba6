"""Uploaded images, their encoding state, and their SAM embeddings."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone

from webapp.projects.models import Project


class EncodingStatus(models.TextChoices):
    PENDING = "pending"
    ENCODING = "encoding"
    READY = "ready"
    FAILED = "failed"


def image_path(instance: Image, filename: str) -> str:
    """Stored names never come from the user: ``images/<project>/<uuid>.<ext>``."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"images/{instance.project_id}/{uuid.uuid4().hex}.{ext}"


def thumbnail_path(instance: Image, filename: str) -> str:
    return f"thumbnails/{instance.project_id}/{uuid.uuid4().hex}.jpg"


class ImageQuerySet(models.QuerySet["Image"]):
    def pending(self) -> ImageQuerySet:
        return self.filter(status=EncodingStatus.PENDING)

    def ready(self) -> ImageQuerySet:
        return self.filter(status=EncodingStatus.READY)

    def stuck(self, older_than: timedelta | None = None) -> ImageQuerySet:
        """Pending or encoding for longer than ``older_than`` (default: the setting)."""
        if older_than is None:
            older_than = timedelta(seconds=settings.SAMLABEL_STUCK_AFTER_SECONDS)
        return self.filter(
            status__in=[EncodingStatus.PENDING, EncodingStatus.ENCODING],
            status_changed_at__lt=timezone.now() - older_than,
        )

    def progress(self) -> dict[str, int]:
        """``{"total", "pending", "encoding", "ready", "failed"}`` counts."""
        counts = self.aggregate(
            total=Count("id"),
            **{s.value: Count("id", filter=Q(status=s)) for s in EncodingStatus},
        )
        return {k: int(v or 0) for k, v in counts.items()}


class Image(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="images")
    file = models.ImageField(upload_to=image_path, width_field="width", height_field="height")
    original_name = models.CharField(max_length=255)
    width = models.PositiveIntegerField()  # after EXIF orientation, as the user sees it
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    thumbnail = models.ImageField(upload_to=thumbnail_path, blank=True)
    status = models.CharField(
        max_length=10, choices=EncodingStatus.choices, default=EncodingStatus.PENDING
    )
    failure_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "sha256"], name="one_copy_per_project")
        ]
        indexes = [models.Index(fields=["status", "status_changed_at"])]

    def __str__(self) -> str:
        return self.original_name

    def claim_for_encoding(self) -> bool:
        """Move pending -> encoding if nobody else did; True when this caller won.

        A conditional UPDATE, so a duplicate or re-delivered task does nothing.
        """
        claimed = Image.objects.filter(pk=self.pk, status=EncodingStatus.PENDING).update(
            status=EncodingStatus.ENCODING, status_changed_at=timezone.now()
        )
        if claimed:
            self.status = EncodingStatus.ENCODING
        return bool(claimed)

    def set_status(self, status: EncodingStatus, reason: str = "") -> None:
        self.status = status
        self.failure_reason = reason
        self.status_changed_at = timezone.now()
        self.save(update_fields=["status", "failure_reason", "status_changed_at"])


def embedding_path(instance: ImageEmbedding, filename: str) -> str:
    """Content-addressed: ``embeddings/<model>/<sha256>.npy``."""
    return f"embeddings/{instance.model}/{instance.sha256}.npy"


class ImageEmbedding(models.Model):
    """SAM's embedding of one image for one model: immutable, addressed by content hash.

    Stored as ``.npy``, (1, 256, 64, 64), in ``dtype`` (float16 by default: 2 MiB).
    """

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="embeddings")
    model = models.CharField(max_length=100)
    file = models.FileField(upload_to=embedding_path)
    sha256 = models.CharField(max_length=64)
    dtype = models.CharField(max_length=10, default="float16")
    shape = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "model"], name="one_embedding_per_model")
        ]

    def __str__(self) -> str:
        return f"{self.model} embedding of {self.image}"
