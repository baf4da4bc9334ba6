"""JSON API routes of the annotations app (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

from webapp.annotations import api

urlpatterns = [
    path(
        "projects/<int:project_pk>/images/<int:image_pk>/annotations/",
        api.ImageAnnotationList.as_view(),
        name="annotation-list",
    ),
    path(
        "projects/<int:project_pk>/annotations/",
        api.ProjectAnnotationList.as_view(),
        name="project-annotation-list",
    ),
    path(
        "projects/<int:project_pk>/annotations/<int:pk>/",
        api.AnnotationDetail.as_view(),
        name="annotation-detail",
    ),
    path(
        "projects/<int:project_pk>/annotations/<int:pk>/merge/",
        api.AnnotationMerge.as_view(),
        name="annotation-merge",
    ),
    path(
        "projects/<int:project_pk>/annotations/<int:pk>/unmerge/",
        api.AnnotationUnmerge.as_view(),
        name="annotation-unmerge",
    ),
]
