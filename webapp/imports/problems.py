"""What an import reports when it refuses its input: one :class:`Problem` per bad record.

Problems quote the user's data back to them, and that data may be hostile: a value
written as a YAML alias of an alias can stand for millions of strings, a JSON id can be a
list of a million numbers. So a quoted value goes through :func:`quoted`, which never
writes more than :data:`MAX_QUOTED_CHARS` characters, each text of a problem is cut at
:data:`MAX_PROBLEM_CHARS`, and one refusal lists at most :data:`MAX_PROBLEMS` of them.
"""

from __future__ import annotations

import reprlib
from dataclasses import asdict, dataclass

MAX_QUOTED_CHARS = 80
MAX_PROBLEM_CHARS = 300
MAX_PROBLEMS = 1000

_ELLIPSIS = "…"


class _ShortRepr(reprlib.Repr):
    """``repr`` that stops early: a few items per container, a few levels deep, short
    strings and numbers. Ints too long for ``repr`` (over 4,300 digits) are summarised."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = 6
        self.maxstring = self.maxother = self.maxlong = MAX_QUOTED_CHARS

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 4 * self.maxlong:  # far more digits than are ever shown
            return f"<a {x.bit_length():,}-bit number>"
        return super().repr_int(x, level)


_SHORT_REPR = _ShortRepr()


def quoted(value: object) -> str:
    """``repr(value)`` for a problem message, at most MAX_QUOTED_CHARS characters,
    whatever ``value`` holds (it is never written out whole)."""
    try:
        text = _SHORT_REPR.repr(value)
    except (ValueError, RecursionError):
        text = f"<a {type(value).__name__}>"
    return shorten(text, MAX_QUOTED_CHARS)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


@dataclass(frozen=True)
class Problem:
    """``record`` names the bad record as the user's file does ("annotations[12]",
    "labels/cat.txt:3", a member path); ``field`` the part of it; ``problem`` what is wrong.
    Each is cut at MAX_PROBLEM_CHARS characters."""

    record: str
    field: str
    problem: str

    def __post_init__(self) -> None:
        for name in ("record", "field", "problem"):
            object.__setattr__(self, name, shorten(str(getattr(self, name)), MAX_PROBLEM_CHARS))

    def as_json(self) -> dict[str, str]:
        return asdict(self)


class ImportRejected(Exception):
    """The input cannot be imported; nothing was stored. ``problems`` lists every reason,
    up to MAX_PROBLEMS (then a last problem says how many more there were)."""

    def __init__(self, problems: list[Problem]) -> None:
        if len(problems) > MAX_PROBLEMS:
            more = len(problems) - MAX_PROBLEMS + 1
            problems = [
                *problems[: MAX_PROBLEMS - 1],
                Problem("import", "problems", f"and {more:,} more problems not listed"),
            ]
        super().__init__(f"{len(problems)} problem(s), first: {problems[0] if problems else ''}")
        self.problems = problems
