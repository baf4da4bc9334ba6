"""Serializer fields the apps share."""

from __future__ import annotations

from rest_framework import serializers

# The largest primary key a row can have: Django's BigAutoField, like SQLite's INTEGER and
# PostgreSQL's bigint, is a signed 64-bit integer. A larger number in a request would
# overflow the database driver (a 500) instead of being refused.
MAX_ROW_ID = 2**63 - 1


def row_id_field() -> serializers.IntegerField:
    """An integer that can be a row's id: 1 to MAX_ROW_ID."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ROW_ID)
