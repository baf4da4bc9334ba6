"""Annotations: one object's mask on one image, with the prompts that made it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from webapp.images.models import Image
from webapp.projects.models import LabelClass
from webapp.workflow import tallies


class VersionConflict(Exception):
    """The annotation changed since the version the client edited."""

    def __init__(self, current: Annotation) -> None:
        super().__init__(f"annotation {current.pk} is at version {current.version}")
        self.current = current


class AnnotationSource(models.TextChoices):
    """Where an annotation's first mask came from."""

    MANUAL = "manual"  # drawn in the annotator (or sent through the API)
    PROPOSAL = "proposal"  # a worker's proposal a person accepted (webapp.proposals)
    IMPORT = "import"  # a dataset import


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
    # The proposal it was accepted from: its id only, since proposals are replaced when
    # they are generated again and the annotation must outlive them.
    source = models.CharField(
        max_length=10, choices=AnnotationSource.choices, default=AnnotationSource.MANUAL
    )
    proposal_id = models.PositiveBigIntegerField(null=True, blank=True)
    # Its class is the one its labelled neighbours suggested, given without a person
    # choosing it ("accept all with their suggested classes"). A person giving it a class
    # (even the same) ends that, and so does its image's acceptance (a reviewer's accept,
    # or the annotator's submit where the project asks no review: :meth:`classes_checked`).
    # Until then it is no labelled example for class suggestions: the suggester would
    # learn from, and measure its bar on, its own unchecked guesses.
    class_suggested = models.BooleanField(
        default=False,
        help_text="Its class is the suggested one, given without a person choosing it.",
    )

    class Meta:
        ordering = ["id"]
        # The gallery's label class filter reads a class's images from this index alone.
        indexes = [models.Index(fields=["label_class", "image"])]

    def __str__(self) -> str:
        return f"{self.label_class} on {self.image}"

    @classmethod
    def classes_checked(cls, image_id: int) -> int:
        """The image was accepted: a person has now checked every class on it, so none
        is a suggested one any more. Called in the transaction of the accepting move;
        the annotations' versions stay (no mask or class changed). Returns how many
        annotations changed."""
        return cls.objects.filter(image_id=image_id, class_suggested=True).update(
            class_suggested=False
        )

    # Every way this model writes one row keeps the image's annotation count and the
    # project's tallies in the same transaction (webapp.workflow.tallies).

    def save(self, *args: Any, **kwargs: Any) -> None:
        with transaction.atomic(savepoint=False):
            before = None if self._state.adding else _stored_row(self.pk)
            super().save(*args, **kwargs)
            if before is None:
                tallies.count_annotations([tallies.row_of(self)])
            else:
                tallies.annotation_changed(before, tallies.row_of(self))

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        with transaction.atomic(savepoint=False):
            before = _stored_row(self.pk)
            deleted = super().delete(*args, **kwargs)
            if before is not None:
                tallies.count_annotations([before], -1)
        return deleted

    def apply_edit(self, expected_version: int, *, editor: Any = None, **fields: Any) -> None:
        """Save ``fields`` only if the stored version is still ``expected_version``;
        otherwise raise :class:`VersionConflict` and change nothing. ``editor`` becomes
        the last editor."""
        fields["updated_at"] = timezone.now()
        fields["last_editor"] = editor if getattr(editor, "is_authenticated", False) else None
        with transaction.atomic(savepoint=False):
            counted = "label_class" in fields or "area" in fields
            before = _stored_row(self.pk, expected_version) if counted else None
            updated = Annotation.objects.filter(pk=self.pk, version=expected_version).update(
                version=F("version") + 1, **fields
            )
            if not updated:
                raise VersionConflict(Annotation.objects.get(pk=self.pk))
            self.refresh_from_db()
            if before is not None:
                tallies.annotation_changed(before, tallies.row_of(self))

    def delete_at_version(self, expected_version: int) -> None:
        """Delete only if the stored version is still ``expected_version``; otherwise raise
        :class:`VersionConflict` and delete nothing (``DoesNotExist`` if already gone)."""
        with transaction.atomic(savepoint=False):
            before = _stored_row(self.pk, expected_version)
            if before is None:
                raise VersionConflict(Annotation.objects.get(pk=self.pk))
            Annotation.objects.filter(pk=self.pk, version=expected_version).delete()
            tallies.count_annotations([before], -1)


def _stored_row(pk: int, version: int | None = None) -> tallies.AnnotationRow | None:
    """What the counts know of annotation ``pk`` as stored (at ``version`` when given),
    locked until the transaction ends (PostgreSQL); None when there is no such row."""
    found = Annotation.objects.select_for_update(of=("self",)).filter(pk=pk)
    if version is not None:
        found = found.filter(version=version)
    row = found.values_list(*tallies.ROW_FIELDS).first()
    return None if row is None else (row[0], row[1], row[2], row[3], row[4])
