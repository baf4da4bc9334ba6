"""Pages of the projects app."""

from __future__ import annotations

from django.urls import path

from webapp.projects import views

app_name = "projects"

urlpatterns = [
    path("", views.project_list, name="list"),
    path("<int:pk>/", views.project_detail, name="detail"),
    path("<int:pk>/dashboard/", views.project_dashboard, name="dashboard"),
]
