"""Crop embeddings: SAM's embedding of a region of a large image, so that the annotator
decodes clicks there at full detail (see ``inference/crops.py`` for the boxes and
frames).

One row per (image, model, box): the box is snapped to a grid, so the windows people zoom
into map onto few boxes, each encoded once and used by everyone. A row is a job of the
worker (webapp.core.jobs): claimed with a conditional update, swept when its worker died.
Crops nobody used for SAMLABEL_CROP_TTL_DAYS are deleted with their files by a sweep.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from inference.crops import CropBox
from webapp.core.jobs import StuckJobQuerySet
from webapp.images.models import EMBEDDING_SHAPE, Image

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class CropStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def crop_embedding_path(instance: CropEmbedding, filename: str) -> str:
    """``crops/<project>/<uuid>.npy``: one file per row, deleted with it."""
    return f"crops/{instance.image.project_id}/{uuid.uuid4().hex}.npy"


class CropQuerySet(StuckJobQuerySet):
    def failure_fields(self, attempts: int) -> dict[str, Any]:
        return {
            "error": f"The worker stopped {attempts} times while encoding this crop; "
            "ask for it again."
        }

    def outcome_fields(self) -> dict[str, Any]:
        return {"error": ""}

    def unused(self, now: datetime | None = None) -> CropQuerySet:
        """Finished crops (done or failed) nobody used for SAMLABEL_CROP_TTL_DAYS (none
        when it is 0). Pending and running ones are jobs in progress and stay."""
        days = settings.SAMLABEL_CROP_TTL_DAYS
        if not days:
            return self.none()
        cutoff = (now or timezone.now()) - timedelta(days=days)
        return self.filter(status__in=[CropStatus.DONE, CropStatus.FAILED], last_used_at__lt=cutoff)


# How stale ``last_used_at`` may get before a use writes it again: a crop served many
# times a minute costs one write an hour, and the expiry, counted in days, loses nothing.
USE_RECORDED_EVERY = timedelta(hours=1)


class CropEmbedding(models.Model):
    """SAM's embedding of the box [x0, x1) × [y0, y1) (original pixels) of ``image`` with
    ``model``, stored like an image's: ``.npy``, (1, 256, 64, 64) float16, in the crop's
    own model frame (the crop resized to 1024 on its long side)."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="crop_embeddings")
    model = models.CharField(max_length=100)
    x0 = models.PositiveIntegerField()
    y0 = models.PositiveIntegerField()
    x1 = models.PositiveIntegerField()
    y1 = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=CropStatus.choices, default=CropStatus.PENDING)
    error = models.TextField(blank=True)
    file = models.FileField(upload_to=crop_embedding_path, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    retried_at_attempt = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Seconds the last encoding took on the worker (decoding the picture included).
    seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When someone last asked for it or fetched its embedding (to the hour: mark_used).
    last_used_at = models.DateTimeField(default=timezone.now)

    objects = CropQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["image", "model", "x0", "y0", "x1", "y1"], name="one_crop_per_box"
            )
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"crop {self.box.as_list()} of {self.image_id} with {self.model}: {self.status}"

    @property
    def box(self) -> CropBox:
        return CropBox(self.x0, self.y0, self.x1, self.y1)

    @classmethod
    def request(cls, image: Image, box: CropBox) -> tuple[CropEmbedding, bool]:
        """The crop ``box`` of ``image`` with its project's model, made if need be: (the
        row, True when the caller must queue its task once committed). A failed one goes
        back to pending as a new attempt; one pending, running or done is left as it is
        (conditional updates, so two requests at once queue it once)."""
        crop, created = cls.objects.get_or_create(
            image=image, model=image.project.model, x0=box.x0, y0=box.y0, x1=box.x1, y1=box.y1
        )
        if created:
            return crop, True
        crop.mark_used()
        if crop.status != CropStatus.FAILED:
            return crop, False
        moved = cls.objects.filter(
            pk=crop.pk, status=CropStatus.FAILED, finished_at=crop.finished_at
        ).update(
            status=CropStatus.PENDING,
            error="",
            finished_at=None,
            heartbeat_at=timezone.now(),
            retried_at_attempt=F("attempts"),
        )
        crop.refresh_from_db()
        return crop, bool(moved)

    def mark_used(self, now: datetime | None = None) -> None:
        """Record that someone used the crop now, unless that was recorded less than
        USE_RECORDED_EVERY ago (then nothing is written)."""
        now = now or timezone.now()
        stale = now - USE_RECORDED_EVERY
        if self.last_used_at >= stale:
            return
        CropEmbedding.objects.filter(pk=self.pk, last_used_at__lt=stale).update(last_used_at=now)
        self.last_used_at = now

    def claim(self) -> bool:
        """Move pending -> running if nobody else did; True when this caller won."""
        now = timezone.now()
        claimed = CropEmbedding.objects.filter(pk=self.pk, status=CropStatus.PENDING).update(
            status=CropStatus.RUNNING, attempts=F("attempts") + 1, heartbeat_at=now
        )
        if claimed:
            self.status, self.heartbeat_at = CropStatus.RUNNING, now
            self.refresh_from_db(fields=["attempts"])
        return bool(claimed)

    def _held(self) -> models.QuerySet[CropEmbedding]:
        """This row, only while this attempt still holds it (not deleted with its image,
        not given by the sweep to a newer attempt)."""
        return CropEmbedding.objects.filter(
            pk=self.pk, status=CropStatus.RUNNING, attempts=self.attempts
        )

    def release(self) -> bool:
        """Give the claim back, uncounted, after a transient error (the retry claims it)."""
        return bool(
            self._held().update(
                status=CropStatus.PENDING, attempts=F("attempts") - 1, heartbeat_at=timezone.now()
            )
        )

    def fail(self, reason: str) -> bool:
        """Store the failure and its reason if this attempt still holds the crop."""
        return bool(
            self._held().update(status=CropStatus.FAILED, error=reason, finished_at=timezone.now())
        )

    def store(self, embedding: npt.ArrayLike, seconds: float) -> bool:
        """Save ``embedding`` ((1, 256, 64, 64) or (256, 64, 64), any float dtype) as
        float16 ``.npy`` and mark the crop done, if this attempt still holds it; False
        (nothing kept: the file written is removed) when it does not."""
        import hashlib

        import numpy as np

        array: np.ndarray = np.asarray(embedding).astype("<f2").reshape(EMBEDDING_SHAPE)
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        content = buffer.getvalue()
        field = self._meta.get_field("file")
        name = field.generate_filename(self, "crop.npy")
        storage = field.storage
        name = storage.save(name, ContentFile(content))
        with transaction.atomic():
            # Locked (on PostgreSQL) so that the image's deletion or the sweep cannot
            # slip in between the check and the write.
            held = self._held().select_for_update().exists() and bool(
                self._held().update(
                    status=CropStatus.DONE,
                    file=name,
                    sha256=hashlib.sha256(content).hexdigest(),
                    error="",
                    seconds=seconds,
                    finished_at=timezone.now(),
                )
            )
        if not held:
            storage.delete(name)
            return False
        self.refresh_from_db()
        return True

    def load(self) -> np.ndarray:
        """The stored embedding: (1, 256, 64, 64) float16."""
        import numpy as np

        with self.file.storage.open(self.file.name, "rb") as stream:
            return np.load(io.BytesIO(stream.read()), allow_pickle=False)
