"""``python -m benchmarks.upload_to_ready`` runs end to end: its own database, broker and
worker, real uploads, and a table of seconds per photo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture
def two_photos(tmp_path: Path) -> Path:
    """A folder laid out like the GrabCut set, with two small photos."""
    (tmp_path / "images").mkdir()
    rng = np.random.default_rng(1)
    for name in ("a.jpg", "b.png"):
        pixels = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / "images" / name)
    return tmp_path


def test_the_benchmark_prints_a_row_per_photo_and_the_mean(two_photos: Path) -> None:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run this test, but redis-server is not installed")
        pytest.skip("redis-server is not installed")

    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.upload_to_ready", "--grabcut", str(two_photos),
         "--limit", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("Machine: ") and "nproc" in line for line in lines)
    rows = [line.split("|")[1:-1] for line in lines if line.startswith("| ")]
    by_label = {cells[0].strip(): [c.strip() for c in cells] for cells in rows}
    assert by_label["1"][1:3] == ["a.jpg", "160 × 120"]
    seconds = [float(cell) for cell in by_label["1"][3:]]  # request, task, upload to ready
    assert 0 < seconds[0] < seconds[2] and 0 < seconds[1] < seconds[2]
    assert "mean of 1" in by_label
    assert "b.png" not in result.stdout  # --limit 1
