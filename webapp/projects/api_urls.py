"""JSON API routes of the projects app (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

from webapp.projects import api

LIST = {"get": "list", "post": "create"}
DETAIL = {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}

urlpatterns = [
    path("projects/", api.ProjectViewSet.as_view(LIST), name="project-list"),
    path("projects/<int:pk>/", api.ProjectViewSet.as_view(DETAIL), name="project-detail"),
    path(
        "projects/<int:project_pk>/members/",
        api.MemberViewSet.as_view(LIST),
        name="member-list",
    ),
    path(
        "projects/<int:project_pk>/members/<int:pk>/",
        api.MemberViewSet.as_view(DETAIL),
        name="member-detail",
    ),
    path(
        "projects/<int:project_pk>/invitations/",
        api.InvitationViewSet.as_view({"get": "list"}),
        name="invitation-list",
    ),
    path(
        "projects/<int:project_pk>/invitations/<int:pk>/",
        api.InvitationViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="invitation-detail",
    ),
    path(
        "projects/<int:project_pk>/label-classes/",
        api.LabelClassViewSet.as_view(LIST),
        name="labelclass-list",
    ),
    path(
        "projects/<int:project_pk>/label-classes/<int:pk>/",
        api.LabelClassViewSet.as_view(DETAIL),
        name="labelclass-detail",
    ),
    path(
        "projects/<int:project_pk>/stats/",
        api.ProjectStatisticsView.as_view(),
        name="project-stats",
    ),
]
