"""Querysets of a fixed shape compiled to SQL once per process, then run with new values.

Building and compiling a queryset with a few ``Q`` conditions and filtered aggregates
costs the ORM about a millisecond of CPU, more than the database takes to answer it. A
hot request that runs the same shape every time (only ids change) can have it compiled
once: :func:`rows` builds the queryset with stand-in ids, keeps its SQL and notes which
parameters are which stand-in, and afterwards only sends the SQL with the real ids. The
SQL is the ORM's own, so it is exactly what the queryset would have sent.

A shape whose SQL does not keep the stand-ins as parameters (the ORM wrote one into the
text, or a stand-in is missing) is not kept: it is built and run every time, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import QuerySet

# Stand-ins for the ids: negative, so that they can be no row's id, and far from any
# constant a query would hold.
_FIRST_STAND_IN = -7_340_029_000_001


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # For each parameter: ("value", index into the values) or ("constant", the value).
    params: tuple[tuple[str, Any], ...]


_compiled: dict[Hashable, _Compiled | None] = {}


def rows(key: Hashable, build: Callable[..., QuerySet[Any]], *ids: int) -> list[tuple[Any, ...]]:
    """The rows of ``build(*ids)`` (a queryset of values: ``values()`` or
    ``values_list()``), as tuples in its columns' order. ``key`` names the shape: every
    call with one key must build the same query but for the ids, which ``build`` may use
    only as ids (compared, never computed with)."""
    if key not in _compiled:
        _compiled[key] = _compile(build, len(ids))
    compiled = _compiled[key]
    if compiled is None:
        return [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in build(*ids)]
    params = [ids[value] if kind == "value" else value for kind, value in compiled.params]
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def _compile(build: Callable[..., QuerySet[Any]], count: int) -> _Compiled | None:
    stand_ins = [_FIRST_STAND_IN - n for n in range(count)]
    sql, params = build(*stand_ins).query.sql_with_params()
    slots: list[tuple[str, Any]] = []
    for param in params:
        if isinstance(param, int) and not isinstance(param, bool) and param in stand_ins:
            slots.append(("value", stand_ins.index(param)))
        else:
            slots.append(("constant", param))
    used = {value for kind, value in slots if kind == "value"}
    inlined = any(str(stand_in) in sql for stand_in in stand_ins)
    if used != set(range(count)) or inlined:
        return None
    return _Compiled(sql, tuple(slots))
