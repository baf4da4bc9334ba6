"""A project's rule set as JSON, and the :class:`~qualityrules.engine.Rule` list it makes.

The spec, as the web app stores and sends it::

    {"version": 3, "rules": [
        {"name": "min_area", "builtin": "min_area", "params": {"areas": {"car": 200}}},
        {"name": "horizon", "source": "def check(image): ..."}]}

Natively (the web app's process) only built-ins may run: :func:`rules_from_spec` with
``custom=False`` leaves custom rules out. In a sandbox it loads them too; a custom rule
whose module fails to load becomes a rule that reports that failure on every image.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qualityrules import custom
from qualityrules.builtin import BUILTINS, normalise
from qualityrules.engine import Rule, RuleError, describe_failure
from qualityrules.model import ImageData


def rules_from_spec(
    spec: dict[str, Any],
    *,
    custom_rules: bool,
    before_load: Callable[[int], Any] | None = None,
) -> list[Rule]:
    """The rules of ``spec`` in order; custom ones only when ``custom_rules``.
    ``before_load(index)`` is called before each custom rule's module runs."""
    rules: list[Rule] = []
    for index, entry in enumerate(spec.get("rules", [])):
        name = str(entry["name"])
        if entry.get("builtin"):
            if entry["builtin"] not in BUILTINS:
                raise RuleError(f"no built-in rule {entry['builtin']!r}")
            # Normalised here too, so that a stored spec gets the defaults it left out.
            params = normalise(entry["builtin"], dict(entry.get("params", {})))
            rules.append(Rule(name, builtin=entry["builtin"], params=params))
        elif custom_rules:
            if before_load is not None:
                before_load(index)
            rules.append(Rule(name, check=_loaded(name, str(entry["source"]))))
    return rules


def has_custom(spec: dict[str, Any]) -> bool:
    return any(not entry.get("builtin") for entry in spec.get("rules", []))


def _loaded(name: str, source: str) -> Any:
    try:
        return custom.load(name, source)
    except (Exception, RecursionError, MemoryError) as exc:
        why = describe_failure(exc, name)

        def failed(image: ImageData) -> Any:
            raise RuleError(f"its module failed to load: {why}")

        return failed
