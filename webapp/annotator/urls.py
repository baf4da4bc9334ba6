from __future__ import annotations

from django.urls import path

from webapp.annotator import views

app_name = "annotator"

urlpatterns = [
    path(
        "projects/<int:project_pk>/images/<int:image_pk>/annotate/",
        views.annotate,
        name="annotate",
    ),
    path(
        "projects/<int:project_pk>/images/<int:image_pk>/annotate/config.json",
        views.annotate_config,
        name="annotate-config",
    ),
    path("projects/<int:project_pk>/annotate/next/", views.queue_start, name="queue-start"),
    path(
        "projects/<int:project_pk>/annotate/upcoming.json",
        views.upcoming_images,
        name="upcoming",
    ),
    path("annotator/assets/<path:name>", views.asset, name="asset"),
]
