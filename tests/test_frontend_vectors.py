"""The front end's shared test vectors still hold the Python side's answers.

``frontend/test/helpers.test.ts`` checks the browser's helpers against
``frontend/test/vectors.json``; this test checks that file against Python, so a change
on either side that breaks agreement fails one of the two suites.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_frontend_vectors_match_the_python_side() -> None:
    spec = importlib.util.spec_from_file_location(
        "frontend_vectors", ROOT / "scripts" / "frontend_vectors.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = json.loads((ROOT / "frontend" / "test" / "vectors.json").read_text())
    assert committed == json.loads(json.dumps(module.build())), (
        "frontend/test/vectors.json is out of date: run python scripts/frontend_vectors.py"
    )
