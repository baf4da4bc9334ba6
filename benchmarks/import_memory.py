"""Peak memory of reading a large COCO JSON file for an import, and the cost of
rasterising many polygon rings.

``python -m benchmarks.import_memory make FILE MB`` writes a COCO file of about MB
megabytes: 2,000 images and as many annotations as fit, each one polygon of 40 corners
with two decimals, as annotation tools write them.

``python -m benchmarks.import_memory read FILE whole|import`` reads FILE into a dataset
(:func:`webapp.imports.coco.read_parsed`): ``whole`` as imports read it before, the file's
bytes read whole then ``json.loads``; ``import`` as they read it now
(:func:`webapp.imports.coco.read_document`). It prints one JSON line: the peak resident
memory of the process before and after, in MiB, the seconds, and the annotations read.

``python -m benchmarks.import_memory rings`` times both polygon rasterisers on a
4000×3000 image: 1,000 tiny rings (the most a mask may have) and 1,000 rings spanning
the whole image (the worst case the limits allow).

With no arguments, it writes a 100 MB file to a temporary folder, reads it both ways,
each in a fresh process, times the rings, and prints every figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.machine import cpu_name
from benchmarks.memory import peak_rss_mib

MIB = 1024 * 1024


def write_coco(path: Path, megabytes: float) -> int:
    """Write a COCO document of about ``megabytes`` MB to ``path``; the annotations."""
    rng = np.random.default_rng(0)
    images = [
        {"id": n, "file_name": f"images/{n:06d}.jpg", "width": 1280, "height": 960}
        for n in range(1, 2001)
    ]
    target = int(megabytes * MIB)
    with path.open("w") as out:
        head = json.dumps({"images": images, "categories": [{"id": 1, "name": "thing"}]})
        out.write(head[:-1] + ', "annotations": [')
        written, count = len(head), 0
        while written < target:
            corners = rng.uniform(0, 900, size=80).round(2).tolist()
            record = json.dumps(
                {
                    "id": count + 1,
                    "image_id": count % 2000 + 1,
                    "category_id": 1,
                    "segmentation": [corners],
                    "area": 1000.0,
                    "bbox": [0, 0, 10, 10],
                    "iscrowd": 0,
                }
            )
            out.write(("," if count else "") + record)
            written += len(record) + 1
            count += 1
        out.write("]}")
    return count


def _peak_mib() -> float:
    return peak_rss_mib()


def read(path: Path, how: str) -> dict[str, object]:
    """Read ``path`` into a dataset ``how`` (whole or import); the figures."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from django.conf import settings

    from webapp.imports import coco

    settings.SAMLABEL_MAX_IMPORT_JSON_BYTES = path.stat().st_size + 1
    before = _peak_mib()
    started = time.perf_counter()
    with path.open("rb") as source:
        if how == "whole":
            dataset = coco.read_parsed(json.loads(source.read()), path.name)
        else:
            dataset = coco.read_document(source, path.name)
    seconds = time.perf_counter() - started
    return {
        "read": how,
        "file_mib": round(path.stat().st_size / MIB, 1),
        "peak_before_mib": round(before),
        "peak_after_mib": round(_peak_mib()),
        "added_mib": round(_peak_mib() - before),
        "seconds": round(seconds, 2),
        "annotations": len(dataset.annotations),
    }


def time_rings() -> list[dict[str, object]]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from webapp.annotations.rle import polygon_to_mask
    from webapp.imports.polygons import rings_to_mask

    width, height = 4000, 3000
    tiny = [
        [x, y, x + 3.5, y, x, y + 3.5]
        for n in range(1000)
        for x, y in [((n * 37) % (width - 4), (n * 53) % (height - 4))]
    ]
    whole = [[n % 7, 0.0, width - n % 5, 0.0, width / 2, height] for n in range(1000)]
    figures = []
    for name, rings in (("1,000 tiny rings", tiny), ("1,000 whole-image rings", whole)):
        for rasterise in (polygon_to_mask, rings_to_mask):
            started = time.perf_counter()
            rasterise(rings, height, width)
            figures.append(
                {
                    "rings": name,
                    "rasteriser": rasterise.__name__,
                    "seconds": round(time.perf_counter() - started, 2),
                }
            )
    return figures


def main(argv: list[str]) -> None:
    if argv[:1] == ["make"]:
        print(write_coco(Path(argv[1]), float(argv[2])), "annotations")
    elif argv[:1] == ["read"]:
        print(json.dumps(read(Path(argv[1]), argv[2])))
    elif argv[:1] == ["rings"]:
        for line in time_rings():
            print(json.dumps(line))
    else:
        print(json.dumps({"machine": cpu_name(), "cores": os.cpu_count()}))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "annotations.json"
            write_coco(path, 100)
            for how in ("whole", "import"):
                subprocess.run(
                    [sys.executable, "-m", "benchmarks.import_memory", "read", str(path), how],
                    check=True,
                )
        for line in time_rings():
            print(json.dumps(line))


if __name__ == "__main__":
    main(sys.argv[1:])
