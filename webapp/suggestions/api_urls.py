"""JSON API routes of the suggestions app (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

from webapp.suggestions import api

urlpatterns = [
    path(
        "projects/<int:project_pk>/images/<int:image_pk>/suggest-class/",
        api.SuggestClass.as_view(),
        name="suggest-class",
    ),
    path(
        "projects/<int:project_pk>/suggestion-calibration/",
        api.SuggestionCalibration.as_view(),
        name="suggestion-calibration",
    ),
]
