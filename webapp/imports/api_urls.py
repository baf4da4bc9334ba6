"""JSON API routes of the imports app (mounted under /api/)."""

from __future__ import annotations

from django.urls import URLPattern, path

from webapp.imports.api import ImportDetail, ProjectImportView

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
]
