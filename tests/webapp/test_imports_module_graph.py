"""The exports and imports apps import one way: tasks import the code they run, callers
import the tasks, readers and writers are picked from tables, and no import inside a
function hides a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.webapp.conftest import REPO_ROOT

APPS = ("exports", "imports")


def modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in sorted((REPO_ROOT / "webapp" / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            relative = path.relative_to(REPO_ROOT).with_suffix("")
            name = ".".join(relative.parts).removesuffix(".__init__")
            found[name] = path
    return found


def project_imports(path: Path, known: set[str]) -> tuple[set[str], list[str]]:
    """(modules of these apps that ``path`` imports, imports made inside functions)."""
    tree = ast.parse(path.read_text(), str(path))
    targets: set[str] = set()
    inside_functions: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    inside_functions.append(f"{path.name}:{inner.lineno}")
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                targets.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
    return {t for t in targets if t in known}, inside_functions


def test_no_function_in_the_two_apps_imports_inside_its_body() -> None:
    known = set(modules())
    hidden = [where for path in modules().values() for where in project_imports(path, known)[1]]
    assert hidden == []


def test_the_modules_of_the_two_apps_import_each_other_without_a_cycle() -> None:
    known = set(modules())
    graph = {name: project_imports(path, known)[0] for name, path in modules().items()}
    graph = {name: {t for t in targets if t != name} for name, targets in graph.items()}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "open":
            pytest.fail("import cycle: " + " -> ".join([*trail, name]))
        state[name] = "open"
        for target in sorted(graph[name]):
            visit(target, [*trail, name])
        state[name] = "done"

    for name in sorted(graph):
        visit(name, [])
    # The cycles the layout once had are gone in both directions.
    assert "webapp.exports.services" not in graph["webapp.exports.tasks"]
    assert "webapp.imports.datasets" not in graph["webapp.imports.coco"]
    assert "webapp.imports.datasets" not in graph["webapp.imports.yolo"]
