"""``python -m benchmarks.everything_instances --labelme DIR...``: segment-everything recall
on photos with several labelled objects each, with the machine.

The data are folders of labelme JSON files beside their photos, such as the examples
that ship in labelme's source archive (GPL-3.0; not kept in this repository)::

    pip download --no-deps --no-binary :all: labelme==6.3.1
    tar xzf labelme-6.3.1.tar.gz labelme-6.3.1/examples
    python -m benchmarks.everything_instances \\
        --labelme labelme-6.3.1/examples/instance_segmentation/data_annotated

Each object is a labelme shape (polygon, rectangle, circle), or the union of the shapes
that share a ``group_id``; shapes labelled ``__ignore__`` are left out of every IoU (as
the 128 band of GrabCut). For each photo, from its embedding (``--embeddings FOLDER``
keeps ``<stem>.npy`` files between runs), the whole generation
(:func:`inference.everything.generate`) is timed, and each object counts as found at
IoU ≥ 0.5 / 0.75 / 0.9 when some proposal overlaps it that well. Prints the figures per
photo, per class and in a markdown table for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image, ImageDraw

from benchmarks.everything import RECALL_AT, stored_embedding
from benchmarks.model import machine
from inference import rle
from inference.clicks import IGNORE, iou
from inference.everything import EverythingParams, generate
from inference.model import load_sam
from inference.registry import DEFAULT_MODEL

IGNORE_LABEL = "__ignore__"


@dataclass(frozen=True)
class LabelledObject:
    label: str
    truth: npt.NDArray[np.uint8]  # (H, W): 255 the object, IGNORE left out, 0 elsewhere


def _draw(shape: dict, size: tuple[int, int]) -> npt.NDArray[np.bool_]:
    """One labelme shape as a (H, W) bool mask; size is (height, width)."""
    canvas = Image.new("L", (size[1], size[0]), 0)
    draw = ImageDraw.Draw(canvas)
    points = [tuple(map(float, p)) for p in shape["points"]]
    kind = shape.get("shape_type") or "polygon"
    if kind == "rectangle":
        (x0, y0), (x1, y1) = points
        draw.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], fill=1)
    elif kind == "circle":
        (cx, cy), (px, py) = points
        r = float(np.hypot(px - cx, py - cy))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=1)
    elif kind == "polygon" and len(points) >= 3:
        draw.polygon(points, fill=1, outline=1)
    else:
        raise ValueError(f"unsupported labelme shape {kind!r} with {len(points)} points")
    return np.asarray(canvas, dtype=bool)


def labelme_objects(path: Path) -> tuple[Path, tuple[int, int], list[LabelledObject]]:
    """A labelme JSON file's photo, its (height, width) and its objects."""
    data = json.loads(path.read_text())
    size = (int(data["imageHeight"]), int(data["imageWidth"]))
    ignored = np.zeros(size, dtype=bool)
    groups: dict[object, tuple[str, npt.NDArray[np.bool_]]] = {}
    for index, shape in enumerate(data["shapes"]):
        mask = _draw(shape, size)
        if shape["label"] == IGNORE_LABEL:
            ignored |= mask
            continue
        group = shape.get("group_id")
        key = (shape["label"], group) if group is not None else ("shape", index)
        label, union = groups.get(key, (shape["label"], np.zeros(size, dtype=bool)))
        groups[key] = (label, union | mask)
    objects = []
    for label, mask in groups.values():
        truth = np.where(mask, 255, 0).astype(np.uint8)
        truth[ignored & ~mask] = IGNORE
        objects.append(LabelledObject(label, truth))
    return path.parent / data["imagePath"], size, objects


@dataclass(frozen=True)
class PhotoResult:
    name: str
    seconds: float
    cpu_seconds: float
    proposals: int
    best: list[tuple[str, float]]  # (class, best proposal IoU) per object
    load: float


def run_photo(
    json_path: Path, params: EverythingParams, model: str, embeddings: Path | None
) -> PhotoResult:
    photo, size, objects = labelme_objects(json_path)
    embedding = stored_embedding(photo, embeddings, model)
    start, cpu_start = time.perf_counter(), time.process_time()
    proposals = generate(embedding, size, params, model)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    masks = [rle.decode(p.rle) for p in proposals]
    best = [(o.label, max((iou(m, o.truth) for m in masks), default=0.0)) for o in objects]
    return PhotoResult(photo.name, seconds, cpu, len(proposals), best, os.getloadavg()[0])


def recall(pairs: list[tuple[str, float]]) -> str:
    return " / ".join(f"{np.mean([b >= t for _, b in pairs]):.2f}" for t in RECALL_AT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labelme", type=Path, nargs="+", required=True, help="folders")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--points-per-side", type=int, default=32)
    parser.add_argument("--skip-covered-points", choices=("no", "yes", "both"), default="both")
    parser.add_argument("--embeddings", type=Path, default=None, help="cache of .npy files")
    args = parser.parse_args(argv)

    switch = {"no": [False], "yes": [True], "both": [False, True]}[args.skip_covered_points]
    variants = [
        EverythingParams(points_per_side=args.points_per_side, skip_covered_points=skip)
        for skip in switch
    ]
    files = sorted(p for folder in args.labelme for p in folder.glob("*.json"))
    if not files:
        parser.error("no labelme .json files in the folders given")
    load_sam(args.model, "cpu")
    print(f"machine: {machine()}; torch threads {torch.get_num_threads()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results: list[list[PhotoResult]] = [[] for _ in variants]
    for path in files:
        for params, found in zip(variants, results, strict=True):
            r = run_photo(path, params, args.model, args.embeddings)
            found.append(r)
            print(
                f"  {r.name} (skip {params.skip_covered_points}): {r.seconds:.2f} s "
                f"({r.cpu_seconds:.2f} CPU s), {r.proposals} proposals, "
                f"objects' best IoU {', '.join(f'{c} {b:.2f}' for c, b in r.best)}; "
                f"load {r.load:.2f}",
                file=sys.stderr,
                flush=True,
            )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        "| grid | skip covered points | photos | objects | s/image median (min-max) "
        "| proposals/image mean (min-max) | recall@0.5 / 0.75 / 0.9 |"
    )
    print("|---|---|---|---|---|---|---|")
    for params, found in zip(variants, results, strict=True):
        times = [r.seconds for r in found]
        counts = [r.proposals for r in found]
        pairs = [pair for r in found for pair in r.best]
        print(
            f"| {params.points_per_side}×{params.points_per_side} "
            f"| {'yes' if params.skip_covered_points else 'no'} | {len(found)} | {len(pairs)} "
            f"| {statistics.median(times):.2f} ({min(times):.2f}-{max(times):.2f}) "
            f"| {np.mean(counts):.1f} ({min(counts)}-{max(counts)}) | {recall(pairs)} |"
        )
    for params, found in zip(variants, results, strict=True):
        by_class: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for r in found:
            for label, b in r.best:
                by_class[label].append((label, b))
        rows = ", ".join(f"{c} ({len(p)}) {recall(p)}" for c, p in sorted(by_class.items()))
        print(f"per class, skip {params.skip_covered_points}: {rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
