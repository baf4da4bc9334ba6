"""JSON API routes of the imports app (mounted under /api/)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
