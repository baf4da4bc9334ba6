"""The polygon rasteriser's shared test vectors still hold the server's answers.

``frontend/test/polygon-raster.test.ts`` checks the browser's rasteriser against
``frontend/test/polygon-vectors.json``; this test checks that file against the server's
``polygon_to_mask``, so a change on either side (or a new Pillow) that breaks agreement
fails one of the two suites.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_polygon_vectors_match_the_servers_rasteriser() -> None:
    spec = importlib.util.spec_from_file_location(
        "polygon_vectors", ROOT / "scripts" / "polygon_vectors.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = json.loads((ROOT / "frontend" / "test" / "polygon-vectors.json").read_text())
    assert committed == json.loads(json.dumps(module.build())), (
        "frontend/test/polygon-vectors.json is out of date: run python scripts/polygon_vectors.py"
    )
    names = {case["name"] for case in committed}
    assert {"rectangle with a hole", "self-touching at a vertex", "sub-pixel vertices"} <= names
