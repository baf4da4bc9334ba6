from __future__ import annotations

from django.contrib import admin

from webapp.images.models import Image, ImageEmbedding


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["id", "original_name", "project", "width", "height", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["original_name", "sha256"]
    readonly_fields = ["sha256", "width", "height", "status_changed_at", "created_at"]


@admin.register(ImageEmbedding)
class ImageEmbeddingAdmin(admin.ModelAdmin):
    list_display = ["id", "image", "model", "dtype", "sha256", "created_at"]
    list_filter = ["model"]
    search_fields = ["sha256"]
