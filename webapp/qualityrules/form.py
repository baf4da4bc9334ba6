"""The rules form of the "Quality rules" page: one fieldset per built-in rule (enabled,
name, severity, its parameters as inputs over the project's label classes) and the custom
Python rules as name + source pairs.

The form is plain POST fields, parsed here into the JSON list that
:func:`webapp.qualityrules.validation.clean_rules` checks, so the form, the page's JSON
editor and the API store exactly the same thing. Field names:

- ``b-count``; per built-in fieldset ``i``: ``b-i-builtin`` (its key in ``BUILTINS``),
  ``b-i-enabled``, ``b-i-name``, ``b-i-severity`` and one field per parameter,
  ``b-i-<param>`` (class lists: repeated, one value per checked class; numbers per class:
  ``b-i-<param>-<class key>``).
- ``c-count``; per custom rule ``j``: ``c-j-name``, ``c-j-source``.

A class key is the label class's id, or ``name:<name>`` for a class name the stored rules
use that is no class of the project (renamed or deleted since): it stays checked until a
manager unchecks it, so saving the form drops nothing unseen.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from qualityrules.builtin import BUILTINS
from webapp.qualityrules.validation import MAX_RULES, clean_rules

STALE = "name:"
SEVERITIES = ("error", "warning")
WHOLE = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class Param:
    """One parameter of a built-in rule. ``kind``: ``class_numbers`` (``{class: whole
    number}``), ``classes`` (``[class, ...]``), ``whole`` (an int), ``fraction`` (a float)
    or ``choice`` (an int among ``choices``). ``minimum`` is the least value the form
    accepts; ``default`` what an empty input means."""

    key: str
    kind: str
    label: str
    minimum: float = 0
    maximum: float | None = None
    default: Any = None
    choices: tuple[int, ...] = ()
    help: str = ""
    every: bool = False  # a class list that, left empty, means every class


ANY_CLASSES = Param("classes", "classes", "Classes", help="none checked: every class", every=True)
PARAMS: dict[str, tuple[Param, ...]] = {
    "min_area": (Param("areas", "class_numbers", "Least area (px)", help="empty: no minimum"),),
    "required_classes": (Param("classes", "classes", "Classes"),),
    "forbidden_classes": (Param("classes", "classes", "Classes"),),
    "max_instances": (
        Param("max", "class_numbers", "Most instances per image", help="empty: no limit"),
    ),
    "one_part": (
        ANY_CLASSES,
        Param("connectivity", "choice", "Pixels touch by", default=8, choices=(8, 4)),
        Param("min_part_area", "whole", "Ignore parts smaller than (px)", default=0),
    ),
    "no_holes": (
        ANY_CLASSES,
        Param("min_hole_area", "whole", "Ignore holes smaller than (px)", 1, default=1),
    ),
    "no_overlap": (
        ANY_CLASSES,
        Param("max_iou", "fraction", "Most overlap (IoU, 0 to under 1)", 0, 1, default=0.0),
    ),
}
CHOICE_LABELS = {8: "edges or corners (8)", 4: "edges only (4)"}


@dataclass(frozen=True)
class ClassOption:
    """A class the form offers: ``key`` is what its inputs carry (see the module's
    docstring), ``name`` what the rules store."""

    key: str
    name: str
    known: bool = True


def class_options(
    classes: Iterable[tuple[int, str]], rules: list[dict[str, Any]]
) -> list[ClassOption]:
    """The project's ``(id, name)`` classes, then the class names ``rules`` use that are
    none of them."""
    options = [ClassOption(str(pk), name) for pk, name in classes]
    known = {o.name for o in options}
    for rule in rules:
        for value in rule.get("params", {}).values():
            names = value if isinstance(value, list) else value if isinstance(value, dict) else []
            for name in names:
                if isinstance(name, str) and name not in known:
                    known.add(name)
                    options.append(ClassOption(STALE + name, name, known=False))
    return options


@dataclass
class ClassInput:
    """One class's input within a parameter: a checkbox (``checked``) or a number
    (``value``, as typed)."""

    option: ClassOption
    name: str
    value: str = ""
    checked: bool = False


@dataclass
class Field:
    """One parameter's inputs, resolved for the template."""

    param: Param
    name: str
    value: str = ""
    classes: list[ClassInput] = field(default_factory=list)
    choices: list[tuple[str, str]] = field(default_factory=list)

    @property
    def shown(self) -> str:
        """The value in words, for people who may not edit it."""
        if self.param.kind == "classes":
            names = [c.option.name for c in self.classes if c.checked]
            return ", ".join(names) or ("every class" if self.param.every else "none")
        if self.param.kind == "class_numbers":
            return ", ".join(f"{c.option.name}: {c.value}" for c in self.classes if c.value)
        return dict(self.choices).get(self.value, self.value)


@dataclass
class Problem:
    """An error shown beside a rule; ``line`` (1-based) for custom code, else 0."""

    message: str
    line: int = 0


@dataclass
class BuiltinEntry:
    """A built-in rule's fieldset. ``values``: per parameter key, the raw input, a ``str``
    for scalars, a ``set`` of class keys for class lists, ``{class key: str}`` for numbers
    per class."""

    index: int
    builtin: str
    enabled: bool
    name: str
    severity: str = "error"
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[Problem] = field(default_factory=list)

    @property
    def title(self) -> str:
        return BUILTINS[self.builtin].title

    @property
    def prefix(self) -> str:
        return f"b-{self.index}"


@dataclass
class CustomEntry:
    """A custom rule's name and Python source, as typed (line ends ``\\n``)."""

    index: int
    name: str = ""
    source: str = ""
    errors: list[Problem] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"c-{self.index}"

    @property
    def blank(self) -> bool:
        return not self.name.strip() and not self.source.strip()


def _number_text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass
class RulesForm:
    """The whole form: its built-in and custom entries, the class options, and errors that
    concern no one rule."""

    options: list[ClassOption]
    builtins: list[BuiltinEntry] = field(default_factory=list)
    customs: list[CustomEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    # ---- building -----------------------------------------------------------------

    @classmethod
    def from_rules(cls, rules: list[dict[str, Any]], options: list[ClassOption]) -> RulesForm:
        """The form showing stored (clean) ``rules``: each built-in in use, enabled, then
        one disabled fieldset with defaults for each built-in not used."""
        form = cls(options)
        key_of = {o.name: o.key for o in options}
        used: dict[str, list[dict[str, Any]]] = {}
        for stored_rule in rules:
            if "builtin" in stored_rule:
                used.setdefault(stored_rule["builtin"], []).append(stored_rule)
            else:
                form.customs.append(
                    CustomEntry(len(form.customs), stored_rule["name"], stored_rule["source"])
                )
        for builtin in BUILTINS:
            in_use: list[dict[str, Any] | None] = [*used.get(builtin, [])]
            for rule in in_use or [None]:
                params = rule["params"] if rule else {}
                values: dict[str, Any] = {}
                for p in PARAMS[builtin]:
                    stored = params.get(p.key, p.default)
                    if p.kind == "class_numbers":
                        values[p.key] = {
                            key_of[c]: _number_text(n) for c, n in (stored or {}).items()
                        }
                    elif p.kind == "classes":
                        values[p.key] = {key_of[c] for c in stored or []}
                    else:
                        values[p.key] = _number_text(stored)
                form.builtins.append(
                    BuiltinEntry(
                        len(form.builtins),
                        builtin,
                        enabled=rule is not None,
                        name=rule["name"] if rule else builtin,
                        severity=params.get("severity", "error"),
                        values=values,
                    )
                )
        return form

    @classmethod
    def from_post(cls, post: Any, options: list[ClassOption]) -> RulesForm:
        """The form as a manager submitted it (``post``: a ``QueryDict``), every value kept
        as typed so that it can be shown again; unknown classes and built-ins are noted as
        errors here, numbers are read by :meth:`clean`."""
        form = cls(options)
        known = {o.key for o in options}
        b_count, c_count = _count(post, "b-count"), _count(post, "c-count")
        if b_count is None or c_count is None or b_count + c_count > 2 * MAX_RULES:
            form.errors.append(f"The form is damaged or too long (at most {MAX_RULES} rules).")
            return form
        for i in range(b_count):
            builtin = post.get(f"b-{i}-builtin", "")
            if builtin not in PARAMS:
                form.errors.append(f"There is no built-in rule {builtin!r}.")
                continue
            entry = BuiltinEntry(
                len(form.builtins),
                builtin,
                enabled=post.get(f"b-{i}-enabled") == "1",
                name=post.get(f"b-{i}-name", ""),
                severity=post.get(f"b-{i}-severity", "error"),
            )
            for p in PARAMS[builtin]:
                base = f"b-{i}-{p.key}"
                if p.kind == "classes":
                    chosen = set(post.getlist(base))
                    entry.values[p.key] = chosen & known
                    unknown = chosen - known
                elif p.kind == "class_numbers":
                    typed = {
                        k[len(base) + 1 :]: v.strip()
                        for k, v in post.items()
                        if k.startswith(base + "-")
                    }
                    entry.values[p.key] = {k: v for k, v in typed.items() if k in known}
                    unknown = {k for k, v in typed.items() if k not in known and v}
                else:
                    entry.values[p.key] = post.get(base, "").strip()
                    unknown = set()
                if unknown:
                    entry.errors.append(
                        Problem(f"{p.label}: no such class (id {', '.join(sorted(unknown))})")
                    )
            form.builtins.append(entry)
        for j in range(c_count):
            form.customs.append(
                CustomEntry(
                    len(form.customs),
                    post.get(f"c-{j}-name", ""),
                    post.get(f"c-{j}-source", "").replace("\r\n", "\n"),
                )
            )
        return form

    def add_custom(self) -> None:
        """One more, empty, custom rule (the "add a rule" button)."""
        if len(self.customs) < MAX_RULES:
            self.customs.append(CustomEntry(len(self.customs)))

    def remove_custom(self, index: int) -> None:
        """Drop custom rule ``index`` from the form (nothing is stored until saved)."""
        self.customs = [c for c in self.customs if c.index != index]
        for position, custom in enumerate(self.customs):
            custom.index = position

    # ---- checking -----------------------------------------------------------------

    def clean(self) -> list[dict[str, Any]] | None:
        """The rules to store, or ``None`` with the errors set on the entries they concern
        (and on the form). Enabled built-ins come first, then the custom rules that are not
        blank; :func:`clean_rules` has the last word on each."""
        if self.errors:
            return None
        name_of = {o.key: o.name for o in self.options}
        raw: list[dict[str, Any]] = []
        owners: list[BuiltinEntry | CustomEntry] = []
        for entry in self.builtins:
            if not entry.enabled:
                continue
            params: dict[str, Any] = {"severity": entry.severity}
            for p in PARAMS[entry.builtin]:
                value = entry.values[p.key]
                if p.kind == "classes":
                    params[p.key] = [name_of[o.key] for o in self.options if o.key in value]
                elif p.kind == "class_numbers":
                    numbers = {}
                    for o in self.options:
                        typed = value.get(o.key, "")
                        if typed:
                            number = _read(p, typed, entry, f"{p.label}, {o.name}")
                            if number is not None:
                                numbers[o.name] = number
                    params[p.key] = numbers
                    if not numbers and not entry.errors:
                        entry.errors.append(Problem(f"{p.label}: give at least one class a number"))
                elif value:
                    number = _read(p, value, entry, p.label)
                    if number is not None:
                        params[p.key] = number
            if not entry.errors:
                raw.append({"name": entry.name.strip(), "builtin": entry.builtin, "params": params})
                owners.append(entry)
        for custom in self.customs:
            if not custom.blank:
                raw.append({"name": custom.name.strip(), "source": custom.source})
                owners.append(custom)
        if len(raw) > MAX_RULES:
            self.errors.append(f"At most {MAX_RULES} rules.")
            return None
        rules, errors = clean_rules(raw)
        for error in errors:
            problem = Problem(str(error["message"]), int(error.get("line") or 0))
            if error["rule"] is None:
                self.errors.append(problem.message)
            else:
                owners[error["rule"]].errors.append(problem)
        if errors or self.has_errors:
            return None
        return rules

    @property
    def has_errors(self) -> bool:
        entries: list[BuiltinEntry | CustomEntry] = [*self.builtins, *self.customs]
        return bool(self.errors) or any(e.errors for e in entries)

    # ---- showing ------------------------------------------------------------------

    def fields(self, entry: BuiltinEntry) -> list[Field]:
        """``entry``'s parameters as inputs, with the values it holds."""
        out = []
        for p in PARAMS[entry.builtin]:
            name = f"{entry.prefix}-{p.key}"
            value = entry.values[p.key]
            shown = Field(p, name)
            if p.kind == "classes":
                shown.classes = [ClassInput(o, name, checked=o.key in value) for o in self.options]
            elif p.kind == "class_numbers":
                shown.classes = [
                    ClassInput(o, f"{name}-{o.key}", value=value.get(o.key, ""))
                    for o in self.options
                ]
            elif p.kind == "choice":
                shown.value = str(value)
                shown.choices = [(str(c), CHOICE_LABELS.get(c, str(c))) for c in p.choices]
            else:
                shown.value = str(value)
            out.append(shown)
        return out

    def rows(self) -> list[tuple[BuiltinEntry, list[Field]]]:
        """Each built-in fieldset with its fields, in order, for the template."""
        return [(entry, self.fields(entry)) for entry in self.builtins]


def _count(post: Mapping[str, str], key: str) -> int | None:
    text = post.get(key, "0")
    return int(text) if text.isdigit() and len(text) < 4 else None


def _read(p: Param, typed: str, entry: BuiltinEntry, what: str) -> int | float | None:
    """``typed`` as ``p``'s number, or ``None`` with an error on ``entry``."""
    if p.kind == "fraction":
        try:
            number: int | float = float(typed)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            entry.errors.append(Problem(f"{what}: {typed!r} is not a number"))
            return None
    else:
        if not WHOLE.match(typed):
            entry.errors.append(Problem(f"{what}: {typed!r} is not a whole number"))
            return None
        number = int(typed)
    if number < p.minimum:
        entry.errors.append(Problem(f"{what}: must be {p.minimum:g} or more, not {typed}"))
        return None
    if p.maximum is not None and number >= p.maximum:
        entry.errors.append(Problem(f"{what}: must be under {p.maximum:g}, not {typed}"))
        return None
    if p.kind == "choice" and number not in p.choices:
        entry.errors.append(
            Problem(f"{what}: must be {' or '.join(map(str, p.choices))}, not {typed}")
        )
        return None
    return number
