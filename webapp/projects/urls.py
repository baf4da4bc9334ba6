"""Pages of the projects app."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "projects"

urlpatterns: list[URLPattern] = []
