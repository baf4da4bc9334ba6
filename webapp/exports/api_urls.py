"""JSON API routes of the exports app (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

from webapp.exports import api

urlpatterns = [
    path("projects/<int:project_pk>/exports/", api.ExportList.as_view(), name="export-list"),
    path(
        "projects/<int:project_pk>/exports/<int:pk>/",
        api.ExportDetail.as_view(),
        name="export-detail",
    ),
    path(
        "projects/<int:project_pk>/exports/<int:pk>/cancel",
        api.ExportCancel.as_view(),
        name="export-cancel",
    ),
    path(
        "projects/<int:project_pk>/exports/<int:pk>/retry",
        api.ExportRetry.as_view(),
        name="export-retry",
    ),
    path(
        "projects/<int:project_pk>/exports/<int:pk>/download",
        api.ExportDownload.as_view(),
        name="export-download",
    ),
]
