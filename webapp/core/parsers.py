"""Request body parsers of the JSON API.

DRF's JSON parser hands the body straight to :func:`json.loads`, whose C scanner recurses
once per ``[`` or ``{``: a body of a few thousand brackets raises RecursionError, which is
no ValueError and became a 500. :class:`BoundedJSONParser` measures how deeply a document
nests before parsing it, and refuses one deeper than :data:`MAX_JSON_DEPTH` with a 400.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from typing import IO, Any

import numpy as np
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils import json

# No document this API accepts nests deeper than about 5 (an annotation's polygons are
# a list of lists in an object); 64 leaves any client room and stays far below Python's
# recursion limit, in the parser and in everything that walks the parsed value later.
MAX_JSON_DEPTH = 64

# A JSON string: a quote, then characters other than a quote or a backslash, or a
# backslash and the character it escapes, then a quote. Linear: no nested repetition.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)

_OPENS = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSES = np.frombuffer(b"]}", dtype=np.uint8)


def json_depth(text: str) -> int:
    """How deeply ``text`` nests arrays and objects: 0 for a bare number or string, 1 for
    ``[1, 2]``, 2 for ``{"a": [1]}``. Brackets inside strings do not count. Runs in time
    linear in ``len(text)`` and never recurses, whether or not ``text`` is valid JSON."""
    outside_strings = _JSON_STRING.sub("", text).encode("utf-8", errors="replace")
    characters = np.frombuffer(outside_strings, dtype=np.uint8)
    steps = np.isin(characters, _OPENS).astype(np.int64) - np.isin(characters, _CLOSES)
    if not steps.size:
        return 0
    return max(int(np.cumsum(steps).max()), 0)


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser (strict: no NaN or Infinity literals) that answers 400 to a body
    nested deeper than MAX_JSON_DEPTH instead of recursing into it."""

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
        except UnicodeError as exc:
            raise ParseError(f"The body is not valid {encoding} text: {exc}") from None
        depth = json_depth(text)
        if depth > MAX_JSON_DEPTH:
            raise ParseError(
                f"The JSON body nests {depth} levels deep; at most {MAX_JSON_DEPTH} are allowed."
            )
        parse_constant = json.strict_constant if self.strict else None
        try:
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:
            # ValueError covers JSONDecodeError, NaN/Infinity (strict) and integers of
            # more digits than Python converts; RecursionError cannot happen below the
            # depth bound but stays a 400 should the bound ever be raised too far.
            raise ParseError(f"JSON parse error - {exc}") from None
