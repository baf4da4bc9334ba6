"""JSON API routes of the imports app (mounted under /api/)."""

from __future__ import annotations

from django.urls import URLPattern, path

from webapp.imports.api import ImportCancel, ImportDetail, ImportRetry, ProjectImportView

urlpatterns: list[URLPattern] = [
    path(
        "projects/<int:project_pk>/imports/",
        ProjectImportView.as_view(),
        name="api-project-imports",
    ),
    path(
        "projects/<int:project_pk>/imports/<int:import_pk>/",
        ImportDetail.as_view(),
        name="api-project-import",
    ),
    path(
        "projects/<int:project_pk>/imports/<int:import_pk>/cancel",
        ImportCancel.as_view(),
        name="api-project-import-cancel",
    ),
    path(
        "projects/<int:project_pk>/imports/<int:import_pk>/retry",
        ImportRetry.as_view(),
        name="api-project-import-retry",
    ),
]
