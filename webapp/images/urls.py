"""Pages of the images app."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "images"

urlpatterns: list[URLPattern] = []
