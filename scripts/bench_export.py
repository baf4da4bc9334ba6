"""Benchmark of dataset export: seconds and peak memory to write a project's zip.

Builds a throwaway SQLite database (in a temporary folder, removed afterwards) with one
project of ``--images`` images of ``--width`` x ``--height`` (rows only: no image files,
so exports run with ``--no-images``) and ``--per-image`` annotations each (random
ellipses, some with a hole), then exports it in each format and prints, per format and
mask format: seconds, annotations per second, how much the peak resident memory grew
during the export (each export runs in a forked child, so one cannot hide another's peak)
and the zip's size::

    python scripts/bench_export.py --images 1000 --per-image 10
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

RUNS = [("coco", "rle"), ("coco", "polygon"), ("yolo", "rle"), ("voc", "rle"), ("masks", "rle")]


def make_rows(images: int, per_image: int, width: int, height: int) -> object:
    from django.contrib.auth import get_user_model

    from webapp.annotations import rle
    from webapp.annotations.models import Annotation
    from webapp.images.models import Image
    from webapp.projects.models import LabelClass, Project

    owner = get_user_model().objects.create_user(username="bench")
    project = Project.create_with_owner(owner, name="bench")
    labels = [LabelClass.objects.create(project=project, name=f"class{i}") for i in range(5)]
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:height, :width]
    rows = Image.objects.bulk_create(
        Image(
            project=project,
            file=f"images/bench/{n}.jpg",
            original_name=f"photo{n}.jpg",
            width=width,
            height=height,
            sha256=f"{n:064x}",
        )
        for n in range(images)
    )
    batch = []
    for image in rows:
        for k in range(per_image):
            cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
            rx, ry = rng.uniform(0.05, 0.2) * width, rng.uniform(0.05, 0.2) * height
            distance = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
            mask = distance <= 1
            if k % 3 == 0:
                mask &= distance >= 0.2  # a hole
            encoded = rle.encode(mask)
            batch.append(
                Annotation(
                    image=image,
                    label_class=labels[k % len(labels)],
                    rle=encoded,
                    bbox=rle.bbox(encoded),
                    area=rle.area(encoded),
                )
            )
        if len(batch) >= 2000:
            Annotation.objects.bulk_create(batch)
            batch = []
    Annotation.objects.bulk_create(batch)
    return project


def timed_export(write_export: Any, out: Path, project: Any, options: Any) -> tuple[float, int]:
    """In the forked child: (seconds, KiB the peak resident memory grew by)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    write_export(out, project, options)
    seconds = time.perf_counter() - started
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--per-image", type=int, default=10)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        os.environ["MEDIA_ROOT"] = f"{folder}/media"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from webapp.exports.exporter import write_export
        from webapp.exports.selection import ExportOptions

        started = time.perf_counter()
        project = make_rows(args.images, args.per_image, args.width, args.height)
        total = args.images * args.per_image
        print(
            f"{args.images} images of {args.width}x{args.height}, {total} annotations "
            f"(set up in {time.perf_counter() - started:.1f} s)"
        )
        print(f"{'format':<16}{'seconds':>9}{'ann/s':>9}{'+RSS MB':>9}{'zip MB':>9}")
        from django.db import connections

        connections.close_all()  # each child opens its own connection
        context = multiprocessing.get_context("fork")
        for format, mask_format in RUNS:
            options = ExportOptions(format=format, mask_format=mask_format, include_images=False)
            out = Path(folder) / f"{format}-{mask_format}.zip"
            with context.Pool(1) as pool:
                seconds, grown_kib = pool.apply(timed_export, (write_export, out, project, options))
            label = format if format != "coco" else f"coco {mask_format}"
            print(
                f"{label:<16}{seconds:>9.1f}{total / seconds:>9.0f}{grown_kib / 1024:>9.1f}"
                f"{out.stat().st_size / 2**20:>9.1f}"
            )


if __name__ == "__main__":
    main()
