"""Reading a large COCO file for an import holds one copy of its text and compact rings,
not the bytes, the text and a float object per coordinate at once. Measured as the peak
resident memory of a fresh process (``benchmarks/import_memory.py``; figures for a
100 MB file in docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.import_memory import write_coco

ROOT = Path(__file__).resolve().parents[2]


def test_reading_a_20_mb_coco_file_adds_under_four_times_its_size(tmp_path: Path) -> None:
    path = tmp_path / "annotations.json"
    annotations = write_coco(path, 20)

    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.import_memory", "read", str(path), "import"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )

    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["annotations"] == annotations
    # Before: 126 MiB for this file (bytes, text and float objects); now about 55.
    assert figures["added_mib"] < 4 * figures["file_mib"], figures
