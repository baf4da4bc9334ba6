"""JSON shapes of images and of upload results."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from webapp.images.models import EncodingStatus, Image
from webapp.images.uploads import UploadResult


def _image_url(name: str, image: Image) -> str:
    return reverse(name, kwargs={"project_pk": image.project_id, "pk": image.pk})


class ImageSerializer(serializers.ModelSerializer[Image]):
    thumbnail_url = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField()
    display_url = serializers.SerializerMethodField()
    embedding_url = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = [
            "id",
            "original_name",
            "width",
            "height",
            "sha256",
            "status",
            "failure_reason",
            "thumbnail_url",
            "file_url",
            "display_url",
            "embedding_url",
            "created_at",
        ]
        read_only_fields = fields

    def get_thumbnail_url(self, image: Image) -> str | None:
        return _image_url("image-thumbnail", image) if image.thumbnail else None

    def get_file_url(self, image: Image) -> str:
        return _image_url("image-file", image)

    def get_display_url(self, image: Image) -> str:
        """The picture as the annotator shows it (a PNG copy or the original)."""
        return _image_url("image-display", image)

    def get_embedding_url(self, image: Image) -> str | None:
        """Only for ready images: before that the URL answers 409."""
        if image.status != EncodingStatus.READY:
            return None
        return _image_url("image-embedding", image)


def upload_result_json(result: UploadResult) -> dict[str, object]:
    """``{"name", "result": "created"|"duplicate"|"rejected", "id", "image"|"reason"}``."""
    body: dict[str, object] = {"name": result.name, "result": result.outcome}
    if result.image is not None:
        body["id"] = result.image.pk
        if result.outcome == "created":
            body["image"] = ImageSerializer(result.image).data
    if result.reason:
        body["reason"] = result.reason
    return body
