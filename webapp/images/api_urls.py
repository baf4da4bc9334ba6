"""JSON API routes of the images app (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

from webapp.images import api

project = "projects/<int:project_pk>"

urlpatterns = [
    path(f"{project}/images/", api.ImageListView.as_view(), name="image-list"),
    path(f"{project}/images/progress/", api.ImageProgressView.as_view(), name="image-progress"),
    path(f"{project}/images/<int:pk>/", api.ImageDetailView.as_view(), name="image-detail"),
    path(f"{project}/images/delete/", api.ImageBulkDeleteView.as_view(), name="image-bulk-delete"),
    path(f"{project}/images/<int:pk>/file", api.ImageFileView.as_view(), name="image-file"),
    path(
        f"{project}/images/<int:pk>/display", api.ImageDisplayView.as_view(), name="image-display"
    ),
    path(
        f"{project}/images/<int:pk>/thumbnail",
        api.ImageThumbnailView.as_view(),
        name="image-thumbnail",
    ),
    path(
        f"{project}/images/<int:pk>/embedding",
        api.ImageEmbeddingView.as_view(),
        name="image-embedding",
    ),
    path(
        f"{project}/decoder/manifest.json",
        api.DecoderManifestView.as_view(),
        name="decoder-manifest",
    ),
    path(f"{project}/decoder/<str:filename>", api.DecoderFileView.as_view(), name="decoder-file"),
]
