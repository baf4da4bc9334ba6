"""JSON API routes of quality rules (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

from webapp.qualityrules import api

project = "projects/<int:project_pk>"

urlpatterns = [
    path(f"{project}/quality-rules/", api.RuleSetDetail.as_view(), name="quality-rules"),
    path(
        f"{project}/quality-rules/checks/",
        api.ProjectChecks.as_view(),
        name="quality-rules-checks",
    ),
    path(
        f"{project}/images/<int:image_pk>/rule-checks/",
        api.ImageRuleChecks.as_view(),
        name="image-rule-checks",
    ),
]
