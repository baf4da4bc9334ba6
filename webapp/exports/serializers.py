from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from webapp.exports.models import Export, ExportFormat, ExportStatus, MaskFormat
from webapp.exports.selection import ExportOptions
from webapp.projects.models import Project


class ExportSerializer(serializers.ModelSerializer[Export]):
    download_url = serializers.SerializerMethodField()

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
    (or null) for all of them."""

    format = serializers.ChoiceField(choices=ExportFormat.choices)
    mask_format = serializers.ChoiceField(choices=MaskFormat.choices, default=MaskFormat.RLE)
    include_images = serializers.BooleanField(default=True)
    label_classes = serializers.ListField(
        child=serializers.IntegerField(), required=False, allow_null=True, default=None
    )
    images = serializers.ListField(
        child=serializers.IntegerField(), required=False, allow_null=True, default=None
    )

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
        return ExportOptions(**self.validated_data)
