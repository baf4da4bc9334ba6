"""The mask editing algebra's shared vectors still hold the Python side's answers.

``frontend/test/mask-ops.test.ts`` checks ``frontend/src/lib/mask-ops.ts`` against
``frontend/test/mask-ops-vectors.json``; this test checks that file against numpy and
scipy (``scripts/mask_ops_vectors.py``), so a change on either side that breaks
agreement fails one of the two suites.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
from pycocotools import mask as coco_mask

ROOT = Path(__file__).resolve().parents[1]


def vectors_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "mask_ops_vectors", ROOT / "scripts" / "mask_ops_vectors.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def decode(rle: dict[str, object]) -> np.ndarray:
    counts = str(rle["counts"]).encode()
    return np.asarray(coco_mask.decode({"size": rle["size"], "counts": counts}))


def test_mask_ops_vectors_match_the_python_side() -> None:
    committed = json.loads((ROOT / "frontend" / "test" / "mask-ops-vectors.json").read_text())
    assert committed == json.loads(json.dumps(vectors_module().build())), (
        "frontend/test/mask-ops-vectors.json is out of date: run python scripts/mask_ops_vectors.py"
    )


def test_mask_ops_vectors_cover_holes_islands_and_several_parts() -> None:
    """The vectors would not catch a wrong rule if none of their masks had holes,
    small islands or several parts."""
    data = vectors_module().build()
    singles = data["singles"]
    assert any((decode(s["filled"]) != decode(s["mask"])).any() for s in singles)
    assert any(s["islands"]["10"]["removed"] > 0 for s in singles)
    assert max(len(s["parts"]) for s in singles) >= 5
    assert all(decode(s["mask"]).sum() == sum(decode(p).sum() for p in s["parts"]) for s in singles)
