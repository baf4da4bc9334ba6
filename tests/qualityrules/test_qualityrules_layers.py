"""``qualityrules/`` runs in Pyodide as well as CPython, so it imports the standard library
and itself only, nowhere in its code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.layers import imports_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "path", sorted((ROOT / "qualityrules").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_qualityrules_imports_only_the_standard_library(path: Path) -> None:
    outside = {
        name
        for name in imports_of(path)
        if name != "qualityrules" and name not in sys.stdlib_module_names and name != "__future__"
    }

    assert outside == set()
