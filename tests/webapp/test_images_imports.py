"""The modules of the images app import one way: tasks import the code they run, callers
import the tasks, and no import tucked inside a function closes a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "webapp.images"


def imported_modules(path: Path) -> set[str]:
    """Every ``webapp.images`` module that ``path`` imports, at the top or in a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if module_path(name) is not None)
    return found


def module_path(name: str) -> Path | None:
    if not name.startswith(PACKAGE + "."):
        return None
    path = REPO_ROOT / (name.replace(".", "/") + ".py")
    return path if path.is_file() else None


def import_graph() -> dict[str, set[str]]:
    folder = REPO_ROOT / PACKAGE.replace(".", "/")
    graph = {}
    for path in folder.glob("*.py"):
        graph[f"{PACKAGE}.{path.stem}"] = imported_modules(path)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a list of modules, or None."""
    state: dict[str, str] = {}
    trail: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        trail.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return [*trail[trail.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        trail.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_images_app_has_no_import_cycle() -> None:
    graph = import_graph()

    assert graph[f"{PACKAGE}.uploads"] >= {f"{PACKAGE}.tasks"}, "uploads should call the tasks"
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ],
)
def test_the_cycle_finder_finds_cycles_and_only_cycles(
    graph: dict[str, set[str]], cycle: list[str] | None
) -> None:
    assert find_cycle(graph) == cycle


def test_function_level_imports_are_seen(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from webapp.images.tasks import encode_image\n")

    assert imported_modules(source) == {"webapp.images.tasks"}
