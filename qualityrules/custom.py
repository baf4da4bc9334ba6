"""Rules written by a project's managers as Python source.

A custom rule is a module that defines ``check(image)``: it receives an
:class:`~qualityrules.model.ImageData` and returns (or yields) problems, made with
``error(message, *annotation_ids)`` / ``warning(...)`` (already in its globals) or as
``{"severity", "message", "annotation_ids"}`` dicts. It may import only the modules in
:data:`ALLOWED_IMPORTS`; ``rle`` (:mod:`qualityrules.rle`) is in its globals too::

    def check(image):
        for a in image.of_label("person"):
            if len(rle.components(a.rle)) > 1:
                yield error(f"person #{a.id} is in pieces", a.id)

:func:`validate` only reads the source (it never runs it), so the web app calls it when a
manager saves a rule. :func:`load` runs the module's top level and is called only where
rule code is allowed to run: Pyodide, in the browser or in the server's sandboxed runner.
The restricted imports here give clear messages; they are not the sandbox.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qualityrules import model, rle

ENTRY = "check"
MAX_SOURCE_CHARS = 100_000

ALLOWED_IMPORTS = frozenset(
    {
        "bisect",
        "collections",
        "dataclasses",
        "fractions",
        "functools",
        "heapq",
        "itertools",
        "json",
        "math",
        "operator",
        "qualityrules",
        "re",
        "statistics",
        "string",
        "typing",
    }
)
# Builtins that reach outside the rule or wait for a person.
_REMOVED_BUILTINS = ("open", "input", "breakpoint", "exit", "quit", "help", "__import__")


@dataclass(frozen=True)
class SourceError:
    """A problem with a rule's source: ``line`` (1-based; 0 when it concerns the whole
    source) and a message."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def validate(source: str) -> list[SourceError]:
    """What is wrong with ``source`` as a rule, without running it: it must parse, define a
    top-level ``check`` function taking one argument, and import only allowed modules."""
    if len(source) > MAX_SOURCE_CHARS:
        return [SourceError(0, f"a rule's source is at most {MAX_SOURCE_CHARS:,} characters")]
    try:
        tree = ast.parse(source, "<rule>")
    except SyntaxError as exc:
        return [SourceError(exc.lineno or 0, f"{exc.msg}")]
    except ValueError as exc:  # null bytes
        return [SourceError(0, str(exc))]
    errors: list[SourceError] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else ["." * node.level]
        else:
            continue
        for name in names:
            if name.split(".")[0] not in ALLOWED_IMPORTS:
                errors.append(SourceError(node.lineno, _import_refusal(name)))
    checks = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == ENTRY
    ]
    if not checks:
        errors.append(SourceError(0, f"the rule must define a function {ENTRY}(image)"))
    else:
        function = checks[-1]
        if isinstance(function, ast.AsyncFunctionDef):
            errors.append(SourceError(function.lineno, f"{ENTRY} must not be async"))
        positional = function.args.posonlyargs + function.args.args
        required = len(positional) - len(function.args.defaults)
        if required > 1 or (not positional and function.args.vararg is None):
            errors.append(
                SourceError(function.lineno, f"{ENTRY} must take one argument, the image")
            )
    return sorted(errors, key=lambda e: e.line)


def _import_refusal(name: str) -> str:
    return f"rule code may not import {name!r}; it may import {', '.join(sorted(ALLOWED_IMPORTS))}"


def _restricted_import(
    name: str,
    globals: dict[str, Any] | None = None,
    locals: dict[str, Any] | None = None,
    fromlist: tuple[str, ...] = (),
    level: int = 0,
) -> Any:
    if level != 0 or name.split(".")[0] not in ALLOWED_IMPORTS:
        raise ImportError(_import_refusal(name if level == 0 else "." * level + name))
    return builtins.__import__(name, globals, locals, fromlist, level)


def rule_globals(name: str) -> dict[str, Any]:
    """The globals a rule's module runs in: builtins without file, console or import
    access (imports go through the allow list), plus ``error``, ``warning``, ``rle``."""
    safe = {k: v for k, v in vars(builtins).items() if k not in _REMOVED_BUILTINS}
    safe["__import__"] = _restricted_import
    return {
        "__builtins__": safe,
        "__name__": f"rule_{name}",
        "error": model.error,
        "warning": model.warning,
        "Problem": model.Problem,
        "rle": rle,
    }


def load(name: str, source: str) -> Callable[[model.ImageData], Any]:
    """Run the rule's module and return its ``check``; raises what its top level raises,
    or ValueError when it does not define ``check``. Only for sandboxes (see above)."""
    scope = rule_globals(name)
    exec(compile(source, f"<rule {name}>", "exec"), scope)  # rule code runs only in a sandbox
    check = scope.get(ENTRY)
    if not callable(check):
        raise ValueError(f"the rule must define a function {ENTRY}(image)")
    return check
