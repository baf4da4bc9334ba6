"""Tokens for scripts: ``Authorization: Token <key>`` on every API request.

Tokens expire (``SAMLABEL_TOKEN_TTL_SECONDS``) and their owner may revoke theirs at any
time; failed sign-ins here count towards the same lock as the sign-in page's.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.accounts.backends import lockout_message, seconds_locked
from webapp.accounts.tokens import expires_at, revoke_token, valid_token_for


class ObtainTokenView(ObtainAuthToken):
    """Exchange a username and password for your API token (the same token each time,
    until it expires or you revoke it).

    Send it on later requests as the header ``Authorization: Token <key>``, e.g.
    ``curl -H "Authorization: Token $TOKEN" https://host/api/projects/``. After too many
    failed attempts for an account or from an address, sign-ins are refused for a while
    (429, with ``Retry-After``). ``DELETE`` revokes the token of whoever sends it.
    """

    # The project's parsers (bounded JSON), not the plain ones DRF's view names.
    parser_classes = APIView.parser_classes

    @extend_schema(
        auth=[],
        request=AuthTokenSerializer,
        responses={
            200: inline_serializer(
                "Token",
                {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()},
            ),
            429: OpenApiResponse(description="Too many failed sign-ins; try again later."),
        },
        tags=["auth"],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            locked = seconds_locked(request)
            if locked:
                raise exceptions.Throttled(wait=locked, detail=lockout_message(locked))
            raise exceptions.ValidationError(serializer.errors)
        token = valid_token_for(serializer.validated_data["user"])
        return Response({"token": token.key, "expires_at": expires_at(token)})

    @extend_schema(
        request=None,
        responses={204: None, 404: OpenApiResponse(description="You have no token.")},
        tags=["auth"],
    )
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if not revoke_token(request.user):
            raise exceptions.NotFound("You have no API token.")
        return Response(status=status.HTTP_204_NO_CONTENT)
