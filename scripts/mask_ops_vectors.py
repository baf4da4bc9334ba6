"""Write ``frontend/test/mask-ops-vectors.json``: masks and what the mask editing algebra
(``frontend/src/lib/mask-ops.ts``) must make of them, computed here with numpy and
scipy.ndimage.

The front end's ``test/mask-ops.test.ts`` checks its results against this file, and
``tests/test_mask_ops_vectors.py`` checks that the file still matches what this script
computes, so both sides are held to the same pixels. Masks are stored as compressed
COCO RLE (``{"size": [height, width], "counts": ...}``). Run
``python scripts/mask_ops_vectors.py`` after a change of the rules.

The rules: foreground pixels connect to their 8 neighbours, background pixels to their
4; a hole is background that no 4-connected background path joins to the border; a brush
move sets every pixel whose centre (x + 0.5, y + 0.5) lies within the radius of the
segment (image pixels, x then y).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as coco_mask
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "frontend" / "test" / "mask-ops-vectors.json"
EIGHT = np.ones((3, 3), dtype=bool)


def rle(mask: np.ndarray) -> dict[str, object]:
    encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": encoded["counts"].decode()}


def blobs(rng: np.random.Generator, h: int, w: int, sigma: float, level: float) -> np.ndarray:
    """(h, w) uint8: smoothed noise above ``level``, blobs with holes and islands."""
    noise = ndimage.gaussian_filter(rng.standard_normal((h, w)), sigma)
    return (noise > level * noise.std()).astype(np.uint8)


def parts_by_size(mask: np.ndarray) -> list[np.ndarray]:
    """The 8-connected parts, largest first, equal sizes in raster order."""
    labels, count = ndimage.label(mask, structure=EIGHT)
    flat = labels.ravel()
    areas = np.bincount(flat, minlength=count + 1)[1:]
    first = [int(np.flatnonzero(flat == k)[0]) for k in range(1, count + 1)]
    order = sorted(range(1, count + 1), key=lambda k: (-areas[k - 1], first[k - 1]))
    return [(labels == k).astype(np.uint8) for k in order]


def remove_islands(mask: np.ndarray, min_pixels: int) -> tuple[np.ndarray, int, int]:
    labels, count = ndimage.label(mask, structure=EIGHT)
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    small = areas < min_pixels
    small[0] = False
    kept = (mask.astype(bool) & ~small[labels]).astype(np.uint8)
    return kept, int(small.sum()), int(areas[small].sum())


def stamp(
    mask: np.ndarray, x0: float, y0: float, x1: float, y1: float, r: float, value: int
) -> None:
    """In place, the same arithmetic as mask-ops.ts's stampSegment (float64)."""
    h, w = mask.shape
    py, px = np.mgrid[:h, :w].astype(np.float64) + 0.5
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = ((px - x0) * dx + (py - y0) * dy) / length2 if length2 > 0 else np.zeros_like(px)
    t = np.clip(t, 0.0, 1.0)
    ex = px - (x0 + t * dx)
    ey = py - (y0 + t * dy)
    mask[ex * ex + ey * ey <= r * r] = value


def build() -> dict[str, object]:
    rng = np.random.default_rng(16)
    pairs = []
    for h, w in [(1, 1), (13, 17), (40, 33)]:
        a, b = blobs(rng, h, w, 2.0, 0.2), blobs(rng, h, w, 2.0, 0.2)
        pairs.append({
            "a": rle(a), "b": rle(b),
            "union": rle(a | b), "difference": rle(a & (1 - b)),
        })  # fmt: skip

    singles = []
    for h, w, sigma, level in [(1, 1, 1.0, 0.0), (24, 31, 1.5, -0.3), (50, 45, 2.5, -0.4),
                               (37, 60, 1.0, 0.5), (30, 30, 0.7, 0.8)]:  # fmt: skip
        m = blobs(rng, h, w, sigma, level)
        if h == 30:  # a ring whose hole opens onto the border diagonally only
            m[:] = 0
            m[5:15, 5:15] = 1
            m[8:12, 8:12] = 0
            m[0:4, 0:4] = 1
            m[1:3, 1:3] = 0  # a hole next to the border that 4-connectivity keeps closed
        islands = {}
        for n in (1, 3, 10, 50):
            kept, removed, pixels = remove_islands(m, n)
            islands[str(n)] = {"mask": rle(kept), "removed": removed, "removed_pixels": pixels}
        singles.append({
            "mask": rle(m),
            "filled": rle(ndimage.binary_fill_holes(m).astype(np.uint8)),
            "parts": [rle(p) for p in parts_by_size(m)],
            "islands": islands,
        })  # fmt: skip

    strokes = []
    for h, w, moves in [
        (20, 30, [[5.0, 5.0, 5.0, 5.0, 3.0, 1], [2.0, 15.0, 25.5, 12.25, 2.5, 1],
                  [10.0, 0.0, 12.0, 19.0, 1.5, 0]]),
        (16, 16, [[-3.0, -3.0, 20.0, 20.0, 0.5, 1], [8.0, 8.0, 8.0, 8.0, 0.7071, 1],
                  [0.5, 15.5, 15.5, 0.5, 4.0, 1], [8.0, 8.0, 8.0, 8.0, 2.0, 0]]),
        (10, 10, [[-30.0, -30.0, -20.0, -25.0, 3.0, 1]]),
    ]:  # fmt: skip
        m = np.zeros((h, w), np.uint8)
        for x0, y0, x1, y1, r, value in moves:
            stamp(m, x0, y0, x1, y1, r, int(value))
        strokes.append({"size": [h, w], "moves": moves, "mask": rle(m)})

    return {"pairs": pairs, "singles": singles, "strokes": strokes}


def main() -> None:
    OUT.write_text(json.dumps(build(), separators=(",", ":")) + "\n")
    print(f"{OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
