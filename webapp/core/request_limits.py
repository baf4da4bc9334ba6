"""How large a request body may be, decided before anything reads it.

Django reads a body only as far as its declared ``Content-Length`` (and a body without
one as empty), so refusing a declared length over the limit bounds every body: a form,
a JSON document or a multipart upload, which Django would otherwise spool to a
temporary file whole before any view could look at its size.

Two limits: people who are signed in (a session, or an API token that is valid) may
send up to ``SAMLABEL_MAX_REQUEST_BYTES`` (a batch of image uploads, a dataset
archive); anyone else, only ``SAMLABEL_MAX_ANONYMOUS_REQUEST_BYTES``, enough for a
sign-in form, a token request or an invitation's sign-up, so an anonymous request
costs the server nothing but its headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


def declared_length(request: HttpRequest) -> int:
    """The body's ``Content-Length`` in bytes; 0 when it is missing or not a number."""
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _has_valid_token(request: HttpRequest) -> bool:
    # Imported here: the token model needs the app registry, which is not ready when
    # the middleware module is first imported.
    from rest_framework import exceptions

    from webapp.accounts.tokens import ExpiringTokenAuthentication

    try:
        return ExpiringTokenAuthentication().authenticate(request) is not None
    except exceptions.APIException:
        return False


def body_limit_for(request: HttpRequest) -> int:
    """The largest body, in bytes, that ``request``'s sender may send."""
    anonymous_limit: int = settings.SAMLABEL_MAX_ANONYMOUS_REQUEST_BYTES
    user = getattr(request, "user", None)
    # DRF's Request also takes a user forced on the request (its test client does so).
    forced = getattr(request, "_force_auth_user", None)
    if (user is not None and user.is_authenticated) or forced is not None:
        return int(settings.SAMLABEL_MAX_REQUEST_BYTES)
    # Only a body over the anonymous limit pays for a look-up of its token.
    if declared_length(request) > anonymous_limit and _has_valid_token(request):
        return int(settings.SAMLABEL_MAX_REQUEST_BYTES)
    return anonymous_limit


def _mebibytes(size: int) -> str:
    return f"{size / 1024**2:,.1f} MiB" if size >= 1024**2 else f"{size:,} bytes"


class RequestBodyLimitMiddleware:
    """Answer 413 to a request whose declared body is over :func:`body_limit_for`,
    without reading the body. Installed after the authentication middleware, so that a
    signed-in session is known; API responses are JSON (``{"detail": ...}``), others
    plain text."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        size = declared_length(request)
        if size > int(settings.SAMLABEL_MAX_ANONYMOUS_REQUEST_BYTES):
            limit = body_limit_for(request)
            if size > limit:
                return _too_large(request, size, limit)
        return self.get_response(request)


def _too_large(request: HttpRequest, size: int, limit: int) -> HttpResponse:
    detail = (
        f"The request body is {_mebibytes(size)}; this server accepts at most {_mebibytes(limit)}"
    )
    if limit == settings.SAMLABEL_MAX_ANONYMOUS_REQUEST_BYTES:
        detail += " from someone who is not signed in"
    detail += "."
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": detail}, status=413)
    else:
        response = HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")
    return response
