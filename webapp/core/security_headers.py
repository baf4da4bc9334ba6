"""The Content-Security-Policy header: only this server's own scripts, styles, workers and
WebAssembly run in its pages, so a stored script injected into a page would not.

The policy is the setting ``SAMLABEL_CONTENT_SECURITY_POLICY`` (directive -> sources).
A template that must keep an inline ``<style>`` block marks it with
``nonce="{{ request.csp_nonce }}"``; a nonce is made only for responses that use one, and
then admitted for that response alone.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

HEADER = "Content-Security-Policy"
# The directives a nonce is added to, when the response used one.
NONCE_DIRECTIVES = ("script-src", "style-src")


class CspNonce:
    """A random value made the first time a template prints it, and remembered."""

    def __init__(self) -> None:
        self.value: str | None = None

    def __str__(self) -> str:
        if self.value is None:
            self.value = secrets.token_urlsafe(18)
        return self.value


def policy_header(policy: dict[str, list[str]], nonce: str | None = None) -> str:
    """The header's value: ``directive source source; directive ...`` in the given order,
    with ``'nonce-<nonce>'`` added to the script and style sources when ``nonce`` is set."""
    directives = []
    for directive, sources in policy.items():
        if nonce is not None and directive in NONCE_DIRECTIVES:
            sources = [*sources, f"'nonce-{nonce}'"]
        directives.append(" ".join([directive, *sources]))
    return "; ".join(directives)


class ContentSecurityPolicyMiddleware:
    """Sets the policy on every response that has none yet (a view may set its own)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        nonce = CspNonce()
        request.csp_nonce = nonce
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = policy_header(settings.SAMLABEL_CONTENT_SECURITY_POLICY, nonce.value)
        return response
