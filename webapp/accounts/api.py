"""Tokens for scripts: ``Authorization: Token <key>`` on every API request."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response


class ObtainTokenView(ObtainAuthToken):
    """Exchange a username and password for your API token (the same token each time).

    Send it on later requests as the header ``Authorization: Token <key>``, e.g.
    ``curl -H "Authorization: Token $TOKEN" https://host/api/projects/``.
    """

    @extend_schema(
        auth=[],
        request=AuthTokenSerializer,
        responses=inline_serializer("Token", {"token": serializers.CharField()}),
        tags=["auth"],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)
