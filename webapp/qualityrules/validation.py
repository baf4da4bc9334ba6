"""Checks a project's rules before they are stored: built-ins' parameters, custom rules'
source (parsed, never run here), names."""

from __future__ import annotations

import re
from typing import Any

from qualityrules import custom
from qualityrules.builtin import BUILTINS, InvalidParams, normalise

MAX_RULES = 50
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .-]{0,63}$")


def clean_rules(raw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(rules, errors)``: the rules with built-ins' parameters completed, and the errors
    as ``{"rule": index, "name", "line", "message"}`` (line 0: not about one line)."""
    errors: list[dict[str, Any]] = []
    if not isinstance(raw, list):
        return [], [{"rule": None, "name": "", "line": 0, "message": "rules must be a list"}]
    if len(raw) > MAX_RULES:
        errors.append(
            {"rule": None, "name": "", "line": 0, "message": f"at most {MAX_RULES} rules"}
        )
        return [], errors
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        name = entry.get("name") if isinstance(entry, dict) else None

        def fail(message: str, line: int = 0, index: int = index, name: Any = name) -> None:
            errors.append({"rule": index, "name": name or "", "line": line, "message": message})

        if not isinstance(entry, dict):
            fail("each rule must be an object")
            continue
        if not isinstance(name, str) or not NAME.match(name):
            fail("a rule needs a name: letters, digits, _ . - and spaces, at most 64")
            continue
        if name in seen:
            fail(f"two rules are named {name!r}")
            continue
        seen.add(name)
        builtin, source = entry.get("builtin"), entry.get("source")
        if bool(builtin) == bool(source):
            fail('a rule has either "builtin" (with "params") or "source", not both')
        elif builtin:
            if builtin not in BUILTINS:
                fail(f"no built-in rule {builtin!r}; choose from {', '.join(BUILTINS)}")
                continue
            try:
                params = normalise(builtin, entry.get("params", {}))
            except InvalidParams as exc:
                fail(str(exc))
                continue
            cleaned.append({"name": name, "builtin": builtin, "params": params})
        else:
            if not isinstance(source, str):
                fail("source must be text")
                continue
            problems = custom.validate(source)
            for problem in problems:
                fail(problem.message, problem.line)
            if not problems:
                cleaned.append({"name": name, "source": source})
    return cleaned, errors
