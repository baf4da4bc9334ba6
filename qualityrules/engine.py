"""Runs a project's rules on one image and checks what they return.

A rule set is a list of :class:`Rule`: a name, and either a built-in's name with its
parameters or a callable ``check(image)`` (a custom rule loaded by
:func:`qualityrules.custom.load`). :func:`run_rules` returns every problem as a dict
``{"rule", "severity", "message", "annotation_ids"}``, in rule order; the same for the
same input wherever it runs (CPython or Pyodide), which the tests hold both to.

A rule that raises, or returns something that is not a problem, does not stop the others:
it yields one warning, "the rule could not run: ...", naming the line of its source where
it failed. A rule yields at most :data:`MAX_PROBLEMS_PER_RULE` problems (one more says how
many were left out); messages are cut at :data:`MAX_MESSAGE_CHARS`.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from qualityrules.builtin import BUILTINS
from qualityrules.model import SEVERITIES, ImageData, Problem

MAX_PROBLEMS_PER_RULE = 100
MAX_MESSAGE_CHARS = 500


class RuleError(Exception):
    """A rule that could not run; the message says why, for the project's managers."""


@dataclass(frozen=True)
class Rule:
    """``builtin``: a name in :data:`qualityrules.builtin.BUILTINS` with ``params``;
    otherwise ``check`` is the custom rule's function."""

    name: str
    builtin: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    check: Callable[[ImageData], Any] | None = None


def run_rules(image: ImageData, rules: Iterable[Rule]) -> list[dict[str, Any]]:
    """Every problem the ``rules`` find on ``image``, as dicts, rule by rule."""
    found: list[dict[str, Any]] = []
    for rule in rules:
        found.extend(p.to_dict() for p in run_rule(image, rule))
    return found


def run_rule(image: ImageData, rule: Rule) -> list[Problem]:
    """The problems ``rule`` finds on ``image`` (a failure is one warning)."""
    known = {a.id for a in image.annotations}
    try:
        if rule.builtin:
            raw: Any = BUILTINS[rule.builtin].check(image, rule.params)
        elif rule.check is not None:
            raw = rule.check(image)
        else:
            raise RuleError("the rule has neither a built-in nor a check function")
        problems = [_problem(item, known) for item in _listed(raw)]
    except RecursionError:
        return [_failure(rule, "it recursed too deeply (RecursionError)")]
    except MemoryError:
        return [_failure(rule, "it ran out of memory (MemoryError)")]
    except Exception as exc:  # a rule's own bug must not stop the other rules
        return [_failure(rule, describe_failure(exc, rule.name))]
    if len(problems) > MAX_PROBLEMS_PER_RULE:
        left_out = len(problems) - MAX_PROBLEMS_PER_RULE
        problems = problems[:MAX_PROBLEMS_PER_RULE]
        problems.append(Problem("warning", f"and {left_out} more problems of this rule"))
    return [Problem(p.severity, p.message, p.annotation_ids, rule=rule.name) for p in problems]


def _listed(raw: Any) -> list[Any]:
    if raw is None:
        return []
    if isinstance(raw, Problem | dict | str):
        raise RuleError("check must return a list of problems (or yield them), not one")
    items = []
    for item in raw:
        items.append(item)
        if len(items) > 100 * MAX_PROBLEMS_PER_RULE:
            break
    return items


def _problem(item: Any, known: set[int]) -> Problem:
    if isinstance(item, Problem):
        severity, message, ids = item.severity, item.message, item.annotation_ids
    elif isinstance(item, dict):
        severity = item.get("severity", "error")
        message = item.get("message", "")
        ids = item.get("annotation_ids", ())
    else:
        raise RuleError(f"check returned {type(item).__name__}, not a problem")
    if severity not in SEVERITIES:
        raise RuleError(f'a problem\'s severity must be "error" or "warning", not {severity!r}')
    if not isinstance(message, str):
        raise RuleError("a problem's message must be a string")
    if isinstance(ids, int) and not isinstance(ids, bool):
        ids = (ids,)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise RuleError("a problem's annotation_ids must be annotation ids (whole numbers)")
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise RuleError(f"a problem names annotations the image does not have: {unknown[:5]}")
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return Problem(str(severity), message, tuple(dict.fromkeys(ids)))


def _failure(rule: Rule, why: str) -> Problem:
    return Problem("warning", f"the rule could not run: {why}"[:MAX_MESSAGE_CHARS], rule=rule.name)


def describe_failure(exc: BaseException, name: str) -> str:
    """``ZeroDivisionError: division by zero (line 3)``, the line being the last one in the
    rule's own source."""
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == f"<rule {name}>":
            line = frame.lineno or 0
    text = f"{type(exc).__name__}: {exc}"
    return f"{text} (line {line})" if line else text
