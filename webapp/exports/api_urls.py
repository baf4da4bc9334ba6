"""JSON API routes of the exports app (mounted under /api/)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
