"""JSON API routes of the accounts app (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

from webapp.accounts.api import ObtainTokenView

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="token"),
]
