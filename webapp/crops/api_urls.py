"""JSON API routes of the crops app (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

from webapp.crops import api

image = "projects/<int:project_pk>/images/<int:pk>"

urlpatterns = [
    path(f"{image}/crops/", api.CropListView.as_view(), name="crop-list"),
    path(f"{image}/crops/<int:crop_pk>/", api.CropDetailView.as_view(), name="crop-detail"),
    path(
        f"{image}/crops/<int:crop_pk>/embedding",
        api.CropEmbeddingView.as_view(),
        name="crop-embedding",
    ),
]
