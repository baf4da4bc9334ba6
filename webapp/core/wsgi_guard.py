"""A WSGI wrapper that refuses, with 400, requests Django cannot even construct.

Django takes the ``charset`` of a request's Content-Type as the request's encoding when
:func:`codecs.lookup` knows it, and then decodes the query string with it while building
the request object, before any middleware or view runs. Python's codec registry also
knows bytes-to-bytes codecs (``bz2_codec``, ``zlib_codec``, ``base64_codec``...), which
``bytes.decode`` refuses with LookupError: ``GET /?a=1`` with ``Content-Type: text/plain;
charset=bz2_codec`` raised out of the handler, a 500 on every URL.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable
from typing import Any

from django.utils.http import parse_header_parameters

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def charset_refused(content_type: str) -> str | None:
    """The charset named in ``content_type`` when it is a codec Python knows but that
    does not decode bytes to text; None when there is none or it is a text encoding
    (an unknown name is left alone: Django ignores it and uses its default)."""
    _, parameters = parse_header_parameters(content_type)
    charset = parameters.get("charset")
    if not charset:
        return None
    try:
        codecs.lookup(charset)
    except LookupError:
        return None
    try:
        "".encode(charset)
    except (LookupError, UnicodeError):
        return charset
    return None


def refuse_undecodable_charsets(app: WSGIApp) -> WSGIApp:
    """``app`` behind a check of the Content-Type's charset (see the module's docstring)."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        charset = charset_refused(environ.get("CONTENT_TYPE", ""))
        if charset is None:
            return app(environ, start_response)
        body = f"Unsupported charset {charset!r} in the Content-Type header.\n".encode()
        start_response(
            "400 Bad Request",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return guarded
