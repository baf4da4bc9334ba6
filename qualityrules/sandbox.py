"""The Python side of the sandboxed runner: what runs inside Pyodide, under Node.js, in a
process of its own (``webapp/qualityrules/runner/run_rules.mjs``), never natively.

:func:`run` first closes what rule code could reach from Python (an audit hook, which no
code can remove once it is added, refuses opening files other than the interpreter's own
library, starting processes, sockets, ctypes and the like; ``print`` goes to a bounded
sink), then loads the rule set and checks each image, writing one JSON line per image
through ``emit`` and announcing each rule through ``mark(image_index, rule_index)`` before
it starts, so that the parent process can stop a rule that runs too long and say which.
These Python-side guards give rule authors clear messages; the process around them (no
host files, no code generation, no child processes, no globals that reach out, a memory
ceiling and a clock) is what contains a rule that gets past them.

One process serves one rule set for several checks (the parent keeps it warm): the doors
are closed once, and the rules are loaded once per spec and kept for the next checks.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from typing import Any

MAX_PRINTED_CHARS = 1_000_000

_REFUSED_EVENTS = (
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "os.kill",
    "os.killpg",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.listdir",
    "os.scandir",
    "os.chdir",
    "os.putenv",
    "os.unsetenv",
    "os.truncate",
    "os.chmod",
    "os.symlink",
    "os.link",
    "subprocess.",
    "socket.",
    "ctypes.",
    "shutil.",
    "urllib.",
    "http.",
    "webbrowser.",
    "pty.",
    "sqlite3.",
    "glob.",
    "code.__new__",
    "sys.addaudithook",
    "sys.setprofile",
    "sys.settrace",
)
_READABLE_PREFIXES = ("/lib/python", "/rules/")


class PrintedTooMuch(Exception):
    pass


class _Sink(io.TextIOBase):
    """Where ``print`` goes: counted, discarded; past :data:`MAX_PRINTED_CHARS` it raises."""

    def __init__(self) -> None:
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.written += len(text)
        if self.written > MAX_PRINTED_CHARS:
            self.written = 0
            raise PrintedTooMuch(
                f"it printed more than {MAX_PRINTED_CHARS:,} characters; "
                "a rule returns its problems instead of printing them"
            )
        return len(text)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open":
        path = str(args[0]) if args else ""
        mode = str(args[1]) if len(args) > 1 and args[1] is not None else "r"
        if path.startswith(_READABLE_PREFIXES) and not any(c in mode for c in "wax+"):
            return
        raise PermissionError(f"rule code may not open files ({path!r})")
    if event.startswith(_REFUSED_EVENTS):
        raise PermissionError(f"rule code may not use {event}")


_closed = False
_loaded_rules: dict[str, list[Any]] = {}


def close_the_doors() -> None:
    """Refuse files, processes and sockets from here on; send ``print`` to a bounded sink.
    Once per process (a second call does nothing)."""
    global _closed
    if _closed:
        return
    # What the engine and the allowed imports need is imported before the hook goes in.
    import bisect  # noqa: F401
    import collections  # noqa: F401
    import dataclasses  # noqa: F401
    import fractions  # noqa: F401
    import functools  # noqa: F401
    import heapq  # noqa: F401
    import itertools  # noqa: F401
    import math  # noqa: F401
    import operator  # noqa: F401
    import re  # noqa: F401
    import statistics  # noqa: F401
    import string  # noqa: F401
    import traceback  # noqa: F401
    import typing  # noqa: F401

    import qualityrules.builtin
    import qualityrules.custom
    import qualityrules.engine
    import qualityrules.ruleset  # noqa: F401

    sys.addaudithook(_audit)
    sys.stdout = sys.stderr = _Sink()
    _closed = True


def run(request: str, emit: Callable[[str], Any], mark: Callable[[int, int], Any]) -> None:
    """Check every image of ``request`` (JSON ``{"spec", "images"}``) with every rule."""
    close_the_doors()
    from qualityrules.engine import run_rule
    from qualityrules.model import ImageData
    from qualityrules.ruleset import rules_from_spec

    data = json.loads(request)
    images = data.pop("images")
    key = json.dumps(data["spec"], sort_keys=True)
    rules = _loaded_rules.get(key)
    if rules is None:
        rules = rules_from_spec(
            data["spec"], custom_rules=True, before_load=lambda number: mark(-1, number)
        )
        _loaded_rules[key] = rules
    for index, raw in enumerate(images):
        image = ImageData.from_dict(raw)
        problems: list[dict[str, Any]] = []
        for number, rule in enumerate(rules):
            mark(index, number)
            problems.extend(p.to_dict() for p in run_rule(image, rule))
        emit(json.dumps({"i": index, "problems": problems}))
