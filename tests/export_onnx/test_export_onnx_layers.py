"""``export_onnx/`` sits on ``inference/`` and under the web app, the benchmarks and the
scripts (inference <- export_onnx <- webapp, benchmarks, scripts): it imports none of them,
nor Django, anywhere in its code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.layers import imports_of

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("webapp", "django", "rest_framework", "celery", "benchmarks", "scripts")


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "export_onnx").rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_export_onnx_imports_nothing_built_on_it(path: Path) -> None:
    assert imports_of(path).isdisjoint(FORBIDDEN)
