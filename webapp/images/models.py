"""Uploaded images, their encoding state, and their SAM embeddings."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from webapp.projects.models import Project

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# SAM's image embedding of one image, as stored and as served to the browser.
EMBEDDING_SHAPE = (1, 256, 64, 64)
EMBEDDING_DTYPE = "float16"


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


def display_path(instance: Image, filename: str) -> str:
    return f"display/{instance.project_id}/{uuid.uuid4().hex}.png"


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

    def for_model(self, model: str) -> ImageQuerySet:
        """Images of projects that segment with ``model``."""
        return self.filter(project__model=model)

    def requeue_stuck(self, older_than: timedelta | None = None) -> list[int]:
        """Put stuck images (see :meth:`stuck`) back to pending; the ids this caller moved.

        Each row moves only if it is still in the state that was read, so two sweeps
        running at once never both queue the same image.
        """
        moved = []
        for pk, status, changed_at in self.stuck(older_than).values_list(
            "pk", "status", "status_changed_at"
        ):
            if Image.objects.filter(pk=pk, status=status, status_changed_at=changed_at).update(
                status=EncodingStatus.PENDING, status_changed_at=timezone.now()
            ):
                moved.append(pk)
        return moved

    def annotated(self, yes: bool = True) -> ImageQuerySet:
        """Images with at least one annotation (``yes``), or with none."""
        annotations = Image._meta.get_field("annotations").related_model._default_manager
        has_any = Exists(annotations.filter(image=OuterRef("pk")))
        return self.filter(has_any if yes else ~has_any)

    def delete_with_files(self) -> list[int]:
        """Delete these images as :meth:`Image.delete_with_files` does (their annotations
        and embeddings too), in one transaction; the ids deleted."""
        with transaction.atomic():
            images = list(self)
            ids = [image.pk for image in images]
            for image in images:
                image.delete_with_files()
        return ids

    def requeue_awaiting_weights(self, weights_ready: Callable[[str], bool]) -> list[int]:
        """Put back to pending the images that failed for want of their model's weights
        (:meth:`Image.fail_for_want_of_weights`) where ``weights_ready(model)`` now says
        they are here; the ids this caller moved (conditional updates, as above)."""
        waiting = self.filter(status=EncodingStatus.FAILED, awaits_weights=True)
        moved = []
        for model in set(waiting.values_list("project__model", flat=True)):
            if not weights_ready(model):
                continue
            for pk in waiting.filter(project__model=model).values_list("pk", flat=True):
                if Image.objects.filter(
                    pk=pk, status=EncodingStatus.FAILED, awaits_weights=True
                ).update(
                    status=EncodingStatus.PENDING,
                    failure_reason="",
                    awaits_weights=False,
                    status_changed_at=timezone.now(),
                ):
                    moved.append(pk)
        return moved

    def progress(self) -> dict[str, int]:
        """``{"total", "pending", "encoding", "ready", "failed"}`` counts."""
        counts = self.aggregate(
            total=Count("id"),
            **{value: Count("id", filter=Q(status=value)) for value in EncodingStatus.values},
        )
        return {k: int(v or 0) for k, v in counts.items()}


class Image(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="images")
    # A plain FileField: ImageField would overwrite width and height with the stored
    # pixels' size, before EXIF orientation; ours are set from the oriented picture.
    file = models.FileField(upload_to=image_path)
    original_name = models.CharField(max_length=255)
    width = models.PositiveIntegerField()  # after EXIF orientation, as the user sees it
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    thumbnail = models.ImageField(upload_to=thumbnail_path, blank=True)
    # The picture upright as a PNG, when browsers cannot draw the original as SAM sees it
    # (a format they do not decode, or an EXIF orientation other than a JPEG's); the
    # annotator shows it and the worker encodes it. Empty when the original serves.
    display = models.FileField(upload_to=display_path, blank=True)
    status = models.CharField(
        max_length=10, choices=EncodingStatus.choices, default=EncodingStatus.PENDING
    )
    failure_reason = models.TextField(blank=True)
    # Failed because the model's weights were not on the worker: queued again by the sweep
    # once they are (ImageQuerySet.requeue_awaiting_weights).
    awaits_weights = models.BooleanField(default=False)
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
        indexes = [
            models.Index(fields=["status", "status_changed_at"]),
            # A project's images per status (its encoding progress), from the index alone.
            models.Index(fields=["project", "status"]),
        ]

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

    def release_claim(self) -> bool:
        """Move encoding -> pending again (after a transient error); True if it moved."""
        released = Image.objects.filter(pk=self.pk, status=EncodingStatus.ENCODING).update(
            status=EncodingStatus.PENDING, status_changed_at=timezone.now()
        )
        if released:
            self.status = EncodingStatus.PENDING
        return bool(released)

    def read_original(self) -> bytes:
        """The bytes of the uploaded file, exactly as the user sent them."""
        with self.file.storage.open(self.file.name, "rb") as stream:
            return stream.read()

    @property
    def shown_file(self) -> models.fields.files.FieldFile:
        """The file whose pixels everyone works on: the display copy when there is one,
        else the original (a JPEG, PNG, WebP, GIF or BMP that browsers draw upright)."""
        return self.display if self.display else self.file

    def read_shown(self) -> bytes:
        """The bytes of :attr:`shown_file`: what the annotator shows and SAM encodes."""
        shown = self.shown_file
        with shown.storage.open(shown.name, "rb") as stream:
            return stream.read()

    def embedding_for(self, model: str) -> ImageEmbedding | None:
        return self.embeddings.filter(model=model).first()

    def delete_with_files(self) -> None:
        """Delete the row, its embeddings, and (after commit) the files nobody else uses.

        Embedding files are addressed by content, so the same file may belong to the same
        picture in another project; it is kept while any embedding still names it.
        """
        names = [n for n in (self.file.name, self.thumbnail.name, self.display.name) if n]
        embedding_names = list(self.embeddings.values_list("file", flat=True))
        storage = self.file.storage
        with transaction.atomic():
            self.delete()
            still_used = set(
                ImageEmbedding.objects.filter(file__in=embedding_names).values_list(
                    "file", flat=True
                )
            )
            unused = names + [n for n in embedding_names if n not in still_used]
            transaction.on_commit(lambda: [storage.delete(n) for n in unused])

    def fail_for_want_of_weights(self, reason: str) -> None:
        """Fail with ``reason`` until the model's weights are here; then the sweep queues
        this image again."""
        self.status = EncodingStatus.FAILED
        self.failure_reason = reason
        self.awaits_weights = True
        self.status_changed_at = timezone.now()
        self.save(update_fields=["status", "failure_reason", "awaits_weights", "status_changed_at"])

    def set_status(self, status: str, reason: str = "") -> None:
        """Move to ``status`` (an :class:`EncodingStatus`) with ``reason`` for a failure."""
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

    @classmethod
    def store(cls, image: Image, model: str, embedding: npt.ArrayLike) -> ImageEmbedding | None:
        """Save ``embedding`` ((1, 256, 64, 64) or (256, 64, 64), any float dtype) as
        float16 ``.npy`` and mark ``image`` ready, in one transaction.

        The file is named by the sha256 of its bytes and never rewritten: when a file
        with that name exists it is reused. None when the image was deleted while it was
        being encoded: nothing is stored, and the file written for it is removed unless
        another embedding uses the same one.
        """
        import numpy as np

        array: np.ndarray = np.asarray(embedding).astype("<f2").reshape(EMBEDDING_SHAPE)
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        content = buffer.getvalue()
        sha256 = hashlib.sha256(content).hexdigest()
        name = f"embeddings/{model}/{sha256}.npy"
        storage = cls._meta.get_field("file").storage
        if not storage.exists(name):
            saved = storage.save(name, ContentFile(content))
            if saved != name:
                # Another worker wrote the same content between exists() and save().
                storage.delete(saved)
        with transaction.atomic():
            # The row locked (on PostgreSQL) so that a deletion cannot slip in between.
            stored: ImageEmbedding | None = None
            if Image.objects.select_for_update().filter(pk=image.pk).exists():
                stored, _ = cls.objects.update_or_create(
                    image=image,
                    model=model,
                    defaults={
                        "file": name,
                        "sha256": sha256,
                        "dtype": EMBEDDING_DTYPE,
                        "shape": list(EMBEDDING_SHAPE),
                    },
                )
                image.set_status(EncodingStatus.READY)
        if stored is None and not cls.objects.filter(file=name).exists():
            storage.delete(name)
        return stored

    def load(self) -> np.ndarray:
        """The stored embedding: (1, 256, 64, 64) float16."""
        import numpy as np

        with self.file.storage.open(self.file.name, "rb") as stream:
            return np.load(io.BytesIO(stream.read()), allow_pickle=False)


class DecoderBuildStatus(models.TextChoices):
    QUEUED = "queued"
    BUILDING = "building"
    DONE = "done"
    FAILED = "failed"


class DecoderBuild(models.Model):
    """The worker's build of one model's ONNX files (browser decoders, image encoder),
    asked for when the web app found them missing. One row per model.

    At most one build per model is queued or under way; one that failed, or whose worker
    was lost, is asked for again after :attr:`RETRY_AFTER`.
    """

    RETRY_AFTER = timedelta(hours=1)

    model = models.CharField(max_length=100, unique=True)
    status = models.CharField(
        max_length=10, choices=DecoderBuildStatus.choices, default=DecoderBuildStatus.QUEUED
    )
    failure_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"build of {self.model}: {self.status}"

    @classmethod
    def request(cls, model: str) -> tuple[DecoderBuild, bool]:
        """Ask for a build of ``model``'s files: (the row, True when this call queued it,
        so the caller must send the task once committed).

        Asked for again only when the last request is older than :attr:`RETRY_AFTER`:
        a build queued or under way is not asked for twice, a failed one keeps its reason
        visible, and a finished one whose files this server cannot see (built on another
        machine, or deleted since) is not rebuilt in a loop. Conditional updates, so two
        requests at once queue one build.
        """
        build, created = cls.objects.get_or_create(model=model)
        if created:
            return build, True
        if build.status_changed_at >= timezone.now() - cls.RETRY_AFTER:
            return build, False
        moved = cls.objects.filter(
            pk=build.pk, status=build.status, status_changed_at=build.status_changed_at
        ).update(
            status=DecoderBuildStatus.QUEUED, failure_reason="", status_changed_at=timezone.now()
        )
        build.refresh_from_db()
        return build, bool(moved)

    def claim(self) -> bool:
        """Move queued -> building if nobody else did; True when this caller won."""
        return self._move(DecoderBuildStatus.QUEUED, DecoderBuildStatus.BUILDING)

    def finish(self) -> None:
        self._move(DecoderBuildStatus.BUILDING, DecoderBuildStatus.DONE)

    def fail(self, reason: str) -> None:
        self._move(DecoderBuildStatus.BUILDING, DecoderBuildStatus.FAILED, reason)

    def _move(self, source: str, target: str, reason: str = "") -> bool:
        now = timezone.now()
        moved = DecoderBuild.objects.filter(pk=self.pk, status=source).update(
            status=target, failure_reason=reason, status_changed_at=now
        )
        if moved:
            self.status, self.failure_reason, self.status_changed_at = target, reason, now
        return bool(moved)
