from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from webapp.core.fields import row_id_field
from webapp.exports.models import Export, ExportFormat, ExportStatus, ImageScope, MaskFormat
from webapp.exports.selection import DEFAULT_VAL_FRACTION, ExportOptions
from webapp.projects.models import Project


class ExportSerializer(serializers.ModelSerializer[Export]):
    download_url = serializers.SerializerMethodField()
    expires_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the export and its zip are deleted by themselves (null: never, or "
        "not finished yet).",
    )

    class Meta:
        model = Export
        fields = [
            "id",
            "format",
            "options",
            "status",
            "progress_done",
            "progress_total",
            "error",
            "created_at",
            "finished_at",
            "expires_at",
            "requested_by",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, export: Export) -> str | None:
        if export.status != ExportStatus.DONE:
            return None
        return reverse("export-download", args=[export.project_id, export.pk])


class ExportRequestSerializer(serializers.Serializer[ExportOptions]):
    """What to export; ``label_classes`` and ``images`` are ids in the project, left out
    (or null) for all of them. ``image_scope``: only the images a reviewer accepted (the
    default when the project's review is on), only those with annotations (the default
    when it is off), or all of them. ``val_fraction`` (0 <= f < 1, default 0.2) and ``seed``:
    the share of images a YOLO export holds out for validation, and the seed that picks
    them (the same seed picks the same images)."""

    format = serializers.ChoiceField(choices=ExportFormat.choices)
    mask_format = serializers.ChoiceField(choices=MaskFormat.choices, default=MaskFormat.RLE)
    include_images = serializers.BooleanField(default=True)
    label_classes = serializers.ListField(
        child=row_id_field(), required=False, allow_null=True, default=None
    )
    images = serializers.ListField(
        child=row_id_field(), required=False, allow_null=True, default=None
    )
    image_scope = serializers.ChoiceField(
        choices=ImageScope.choices,
        required=False,
        help_text=(
            "accepted: only images a reviewer accepted (the default when the project's "
            "review is on); annotated: only images with annotations (the default when it "
            "is off); all: every image."
        ),
    )
    val_fraction = serializers.FloatField(default=DEFAULT_VAL_FRACTION)
    seed = serializers.IntegerField(default=0, min_value=0, max_value=2**31 - 1)

    def validate_val_fraction(self, fraction: float) -> float:
        if not 0.0 <= fraction < 1.0:
            raise serializers.ValidationError("Give a fraction of at least 0 and below 1.")
        return fraction

    def validate_label_classes(self, ids: list[int] | None) -> list[int] | None:
        return self._ids_in_project(ids, self._project().label_classes, "label class")

    def validate_images(self, ids: list[int] | None) -> list[int] | None:
        return self._ids_in_project(ids, self._project().images, "image")

    def _project(self) -> Project:
        return self.context["project"]

    @staticmethod
    def _ids_in_project(ids: list[int] | None, rows: Any, noun: str) -> list[int] | None:
        if ids is None:
            return None
        ids = sorted(set(ids))
        found = set(rows.filter(pk__in=ids).values_list("pk", flat=True))
        unknown = [pk for pk in ids if pk not in found]
        if unknown:
            raise serializers.ValidationError(
                f"No {noun} with id {', '.join(map(str, unknown))} in this project."
            )
        return ids

    def to_options(self) -> ExportOptions:
        data = dict(self.validated_data)
        if not data.get("image_scope"):
            data["image_scope"] = (
                ImageScope.ACCEPTED if self._project().review_required else ImageScope.ANNOTATED
            )
        return ExportOptions(**data)
