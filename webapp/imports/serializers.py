from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from webapp.imports.models import DatasetImport


class DatasetImportSerializer(serializers.ModelSerializer[DatasetImport]):
    """An import's status. ``stage`` (``checking``, ``masks``, ``storing``) and
        ``progress_done`` of ``progress_total`` follow a running import; ``result`` holds the
        counts once it is done, ``problems`` every reason it was refused. ``status``: pending,
    running, done, failed or cancelled."""

    url = serializers.SerializerMethodField()
    can_retry = serializers.BooleanField(
        read_only=True,
        help_text="Cancelled, or failed on the server's side, with its upload still kept: "
        "POST to url + 'retry' starts it again.",
    )

    class Meta:
        model = DatasetImport
        fields = [
            "id",
            "format",
            "original_name",
            "status",
            "stage",
            "progress_done",
            "progress_total",
            "result",
            "problems",
            "requested_by",
            "created_at",
            "finished_at",
            "can_retry",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, dataset_import: DatasetImport) -> str:
        return reverse("api-project-import", args=[dataset_import.project_id, dataset_import.pk])
