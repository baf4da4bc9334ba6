"""Serializer fields the apps share."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

# The largest primary key a row can have: Django's BigAutoField, like SQLite's INTEGER and
# PostgreSQL's bigint, is a signed 64-bit integer. A larger number in a request would
# overflow the database driver (a 500) instead of being refused.
MAX_ROW_ID = 2**63 - 1

# At most 19 digits: MAX_ROW_ID has 19, and int() of a longer string is wasted work.
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


def row_id_field(**options: Any) -> serializers.IntegerField:
    """An integer that can be a row's id: 1 to MAX_ROW_ID; ``options`` go to DRF's
    IntegerField (``required=False``, ``allow_null=True``...)."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ROW_ID, **options)


def row_id_parameter(query_params: Mapping[str, str], name: str) -> int | None:
    """The row id in query parameter ``name`` (``?image=12``), None when it is absent;
    a 400 naming the parameter unless it is ASCII digits for a number from 1 to
    MAX_ROW_ID (str.isdigit() alone would let through "²", which int() refuses)."""
    raw = query_params.get(name)
    if raw is None:
        return None
    if _ASCII_DIGITS.fullmatch(raw) and 1 <= int(raw) <= MAX_ROW_ID:
        return int(raw)
    shown = raw if len(raw) <= 40 else raw[:40] + "..."
    raise serializers.ValidationError(
        {name: [f"{name} must be the id of a row (1 to {MAX_ROW_ID}), not {shown!r}"]}
    )


# Timestamps as the serializers write them (ISO 8601 in the current time zone, UTC as
# "Z"): an unbound field formats any value, and nothing about it is per request.
_DATETIME = serializers.DateTimeField(read_only=True)


def api_datetime(value: Any) -> str | None:
    """``value`` (a datetime or None) as a DateTimeField of a serializer writes it, for
    the bodies built without one (``annotation_body``, ``work_item_body``)."""
    return None if value is None else _DATETIME.to_representation(value)
