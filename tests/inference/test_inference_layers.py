"""``inference/`` is a plain library at the bottom of the layers (inference <- export_onnx
<- webapp, benchmarks, scripts): it imports none of the packages built on it, nor Django,
anywhere in its code (imports inside functions and type-checking blocks included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.layers import imports_of

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("export_onnx", "webapp", "django", "rest_framework", "celery", "benchmarks", "scripts")


def test_the_import_finder_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        "import numpy as np\n"
        "def later():\n"
        "    from export_onnx.runtime import OnnxDecoder\n"
        "    import importlib\n"
        "    return importlib.import_module('webapp.settings')\n"
    )

    assert imports_of(module) == {"numpy", "export_onnx", "importlib", "webapp"}


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "inference").rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_inference_imports_nothing_built_on_it(path: Path) -> None:
    assert imports_of(path).isdisjoint(FORBIDDEN)
