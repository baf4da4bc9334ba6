"""Annotations: one object's mask on one image, with the prompts that made it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F
from django.utils import timezone

from webapp.images.models import Image
from webapp.projects.models import LabelClass


class VersionConflict(Exception):
    """The annotation changed since the version the client edited."""

    def __init__(self, current: Annotation) -> None:
        super().__init__(f"annotation {current.pk} is at version {current.version}")
        self.current = current


class Annotation(models.Model):
    """``rle``: COCO RLE of the full-resolution mask in the image's frame,
    ``{"size": [height, width], "counts": "<compressed string>"}`` (column-major, as
    COCO). ``bbox`` [x, y, width, height] and ``area`` (pixels) are derived from it.
    ``prompts``: ``{"points": [[x, y], ...], "labels": [1|0, ...], "box": [x0, y0, x1, y1]
    | null}`` in original-image pixels, so the mask can be made again.
    """

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations")
    label_class = models.ForeignKey(
        LabelClass, on_delete=models.PROTECT, related_name="annotations"
    )
    rle = models.JSONField()
    bbox = models.JSONField()
    area = models.PositiveIntegerField()
    prompts = models.JSONField(default=dict, blank=True)
    # Who created it, and who saved it last (the creator until someone edits it).
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.label_class} on {self.image}"

    def apply_edit(self, expected_version: int, *, editor: Any = None, **fields: Any) -> None:
        """Save ``fields`` only if the stored version is still ``expected_version``;
        otherwise raise :class:`VersionConflict` and change nothing. ``editor`` becomes
        the last editor."""
        fields["updated_at"] = timezone.now()
        fields["last_editor"] = editor if getattr(editor, "is_authenticated", False) else None
        updated = Annotation.objects.filter(pk=self.pk, version=expected_version).update(
            version=F("version") + 1, **fields
        )
        if not updated:
            raise VersionConflict(Annotation.objects.get(pk=self.pk))
        self.refresh_from_db()

    def delete_at_version(self, expected_version: int) -> None:
        """Delete only if the stored version is still ``expected_version``; otherwise raise
        :class:`VersionConflict` and delete nothing (``DoesNotExist`` if already gone)."""
        deleted, _ = Annotation.objects.filter(pk=self.pk, version=expected_version).delete()
        if not deleted:
            raise VersionConflict(Annotation.objects.get(pk=self.pk))
