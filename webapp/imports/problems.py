"""What an import reports when it refuses its input: one :class:`Problem` per bad record."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    """``record`` names the bad record as the user's file does ("annotations[12]",
    "labels/cat.txt:3", a member path); ``field`` the part of it; ``problem`` what is wrong."""

    record: str
    field: str
    problem: str

    def as_json(self) -> dict[str, str]:
        return asdict(self)


class ImportRejected(Exception):
    """The input cannot be imported; nothing was stored. ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s), first: {problems[0] if problems else ''}")
        self.problems = problems
