"""API tokens that expire: ``Authorization: Token <key>``, refused once the token is
older than ``SAMLABEL_TOKEN_TTL_SECONDS``.

A token is made when its owner signs in at ``POST /api/auth/token/`` and lasts until it
expires or its owner revokes it (``DELETE /api/auth/token/``, or the button on the
password page); asking again for a token while one is valid gives the same one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


class TokenRefused(exceptions.APIException):
    """401 with ``WWW-Authenticate: Token``: the token sent is unknown or has expired.

    Not an AuthenticationFailed, which DRF turns into 403 whenever session
    authentication is listed first: a script should learn that its token, not its
    role, is the problem."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "authentication_failed"
    auth_header = "Token"


def token_lifetime() -> timedelta:
    return timedelta(seconds=int(settings.SAMLABEL_TOKEN_TTL_SECONDS))


def expires_at(token: Token) -> datetime:
    """When ``token`` stops working (UTC)."""
    return token.created + token_lifetime()


def is_expired(token: Token) -> bool:
    return expires_at(token) <= timezone.now()


def valid_token_for(user: AbstractBaseUser) -> Token:
    """``user``'s token, made anew when they have none or theirs has expired."""
    with transaction.atomic():
        token = Token.objects.filter(user=user).first()
        if token is not None and is_expired(token):
            token.delete()
            token = None
        if token is None:
            token, _ = Token.objects.get_or_create(user=user)
    return token


def revoke_token(user: AbstractBaseUser) -> bool:
    """Delete ``user``'s token; False when they had none."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication (same header, same table) that refuses expired
    tokens, and answers 401 rather than 403 for a token it does not accept."""

    def authenticate(self, request: Any) -> tuple[Any, Token] | None:
        try:
            return super().authenticate(request)
        except TokenRefused:
            raise
        except exceptions.AuthenticationFailed as refusal:
            raise TokenRefused(refusal.detail) from None

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        if is_expired(token):
            raise TokenRefused(
                f"This token expired at {expires_at(token):%Y-%m-%d %H:%M} UTC; "
                "get a new one from POST /api/auth/token/."
            )
        return user, token
