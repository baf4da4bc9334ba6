"""Write ``frontend/test/polygon-vectors.json``: polygons and the masks the server makes
of them (``webapp.annotations.rle.polygon_to_mask``, Pillow's filler), as COCO RLE.

The annotator's polygon mode rasterises edited polygons in the browser
(``frontend/src/lib/polygon-raster.ts``) and sends the same rings to the server, which
rasterises them again; ``frontend/test/polygon-raster.test.ts`` checks the browser's
pixels against this file and ``tests/test_polygon_vectors.py`` checks that the file still
holds the server's answers. Run ``python scripts/polygon_vectors.py`` after a change to
either rasteriser (or to Pillow).

The cases: rectangles and triangles, rings with holes, a ring inside a hole (an island),
self-touching and self-crossing rings, horizontal runs that Pillow merges, sub-pixel and
negative vertices, vertices beyond the image, degenerate rings (collinear, repeated
points), thin slivers, staircases through pixel centres (what the tracer makes), and
seeded random polygons of up to 2,000 vertices.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
from pycocotools import mask as coco_mask

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from webapp.annotations.rle import polygon_to_mask  # noqa: E402

OUT = ROOT / "frontend" / "test" / "polygon-vectors.json"

Rings = list[list[float]]


def star(rng: np.random.Generator, n: int, cx: float, cy: float, r: float) -> list[float]:
    """A random star-shaped ring of ``n`` vertices around (cx, cy), sub-pixel coordinates
    rounded to 1/1000 (so the JSON holds them exactly as drawn)."""
    angles = np.sort(rng.uniform(0, 2 * math.pi, n))
    radii = rng.uniform(0.2 * r, r, n)
    xs = np.round(cx + radii * np.cos(angles), 3)
    ys = np.round(cy + radii * np.sin(angles), 3)
    return np.stack([xs, ys], axis=1).ravel().tolist()


def scribble(rng: np.random.Generator, n: int, h: int, w: int) -> list[float]:
    """``n`` random vertices anywhere in (and a little beyond) the image: a ring that
    crosses itself many times."""
    xs = np.round(rng.uniform(-3, w + 3, n), 2)
    ys = np.round(rng.uniform(-3, h + 3, n), 2)
    return np.stack([xs, ys], axis=1).ravel().tolist()


def staircase(rng: np.random.Generator, n: int, h: int, w: int) -> list[float]:
    """A closed path through pixel centres with steps of at most one pixel (as the
    tracer's rings): a random walk around a circle."""
    cx, cy, r = w / 2, h / 2, min(h, w) / 3
    pts: list[tuple[int, int]] = []
    for k in range(n):
        a = 2 * math.pi * k / n
        rr = r * (1 + 0.15 * math.sin(5 * a) + rng.uniform(-0.05, 0.05))
        p = (round(cx + rr * math.cos(a)), round(cy + rr * math.sin(a)))
        while pts and max(abs(p[0] - pts[-1][0]), abs(p[1] - pts[-1][1])) > 1:
            last = pts[-1]
            pts.append((last[0] + np.sign(p[0] - last[0]), last[1] + np.sign(p[1] - last[1])))
        if not pts or p != pts[-1]:
            pts.append(p)
    return [float(v) for p in pts for v in p]


def cases() -> list[tuple[str, int, int, Rings]]:
    rng = np.random.default_rng(16)
    fixed: list[tuple[str, int, int, Rings]] = [
        ("rectangle", 12, 16, [[2, 3, 10, 3, 10, 8, 2, 8]]),
        ("triangle", 20, 20, [[1, 1, 18, 5, 6, 17]]),
        ("rectangle with a hole", 20, 20, [
            [2, 2, 17, 2, 17, 17, 2, 17], [6, 6, 6, 12, 12, 12, 12, 6],
        ]),
        ("island in a hole", 24, 24, [
            [1, 1, 22, 1, 22, 22, 1, 22], [5, 5, 5, 18, 18, 18, 18, 5],
            [9, 9, 14, 9, 14, 14, 9, 14],
        ]),
        ("figure eight (self-crossing)", 20, 20, [[2, 2, 17, 17, 17, 2, 2, 17]]),
        ("self-touching at a vertex", 20, 24, [[2, 2, 10, 10, 2, 18, 18, 18, 10, 10, 18, 2]]),
        ("two holes touching", 20, 20, [
            [1, 1, 18, 1, 18, 18, 1, 18], [4, 4, 9, 4, 9, 9, 4, 9], [9, 9, 14, 9, 14, 14, 9, 14],
        ]),
        ("merged horizontal runs", 12, 20, [[1, 2, 5, 2, 9, 2, 15, 2, 15, 9, 9, 9, 5, 9, 1, 9]]),
        ("sub-pixel vertices", 16, 16, [[1.9, 2.49, 12.51, 1.5, 13.99, 12.2, 2.5, 13.7]]),
        ("negative and beyond the image", 10, 10, [[-4.5, -2.2, 14.7, 3.3, 6.1, 13.9]]),
        ("negative fractions round towards zero", 10, 10, [
            [-0.9, -0.9, 5.5, -0.4, 5.2, 6.6, -0.6, 5.1],
        ]),
        ("wholly outside", 10, 10, [[-9, -9, -5, -9, -5, -5]]),
        ("collinear (no area)", 10, 10, [[1, 1, 5, 5, 8, 8]]),
        ("one point three times", 10, 10, [[4, 5, 4, 5, 4, 5]]),
        ("horizontal line", 10, 10, [[1, 4, 8, 4, 3, 4]]),
        ("vertical sliver", 12, 12, [[5, 1, 6, 1, 5.5, 11]]),
        ("diagonal sliver", 30, 30, [[1, 1, 2, 1, 28, 27, 28, 28]]),
        ("closing point repeated", 12, 12, [[2, 2, 9, 2, 9, 9, 2, 9, 2, 2]]),
        ("pixel-centre diamond", 12, 12, [[5, 1, 9, 5, 5, 9, 1, 5]]),
    ]  # fmt: skip
    random: list[tuple[str, int, int, Rings]] = []
    for k in range(6):
        h, w = int(rng.integers(20, 90)), int(rng.integers(20, 90))
        outer = star(rng, int(rng.integers(5, 60)), w / 2, h / 2, min(h, w) / 2)
        hole = star(rng, int(rng.integers(3, 20)), w / 2, h / 2, min(h, w) / 6)
        random.append((f"random star with a hole {k}", h, w, [outer, hole]))
    for k in range(6):
        h, w = int(rng.integers(10, 60)), int(rng.integers(10, 60))
        ring = scribble(rng, int(rng.integers(4, 40)), h, w)
        random.append((f"random scribble {k}", h, w, [ring]))
    for k in range(4):
        h, w = int(rng.integers(20, 80)), int(rng.integers(20, 80))
        random.append((f"staircase {k}", h, w, [staircase(rng, 60, h, w)]))
    random.append(("2,000-vertex star", 300, 400, [star(rng, 2000, 200, 150, 140)]))
    return fixed + random


def build() -> list[dict[str, object]]:
    out = []
    for name, h, w, rings in cases():
        mask = polygon_to_mask(rings, h, w)
        encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        out.append({
            "name": name, "size": [h, w], "rings": [[float(v) for v in r] for r in rings],
            "counts": encoded["counts"].decode("ascii"), "area": int(mask.sum()),
        })  # fmt: skip
    return out


def main() -> None:
    OUT.write_text(json.dumps(build(), separators=(",", ":")) + "\n")
    print(f"{OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
