"""Rasterising polygons as COCO and YOLO mean them, with numpy alone.

A ring is flat ``[x1, y1, x2, y2, ...]`` in pixels of the image (x right, y down), where
pixel (x, y) is the square from corner (x, y) to corner (x + 1, y + 1). A pixel is set
when its centre (x + 0.5, y + 0.5) lies inside the ring, so a ring traced along pixel
edges (as our exports write them) gives back exactly the pixels it encloses, and real
datasets agree with pycocotools' own rasteriser to within a few boundary pixels.

The rings of one annotation are unioned, as ``pycocotools`` does (``frPyObjects`` then
``merge``): COCO has no holes in polygon form, so a ring inside another adds nothing. A
hole is written as one ring with a cut to it, or as an RLE.

A mask has at most :data:`~webapp.annotations.rle.MAX_RINGS` rings and
:data:`~webapp.annotations.rle.MAX_RING_POINTS` points, as the annotations API allows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from webapp.annotations.rle import check_polygon_count, ring_array

# Rows are filled in bands of at most this many pixels and crossings, so the counting
# arrays stay a few MB whatever the rings: large rings cost one pass over the image in
# all, not one per ring, and small ones cost about their own size.
BAND_PIXELS = 128 * 1024
BAND_CROSSINGS = 1024 * 1024


def rings_to_mask(rings: object, height: int, width: int) -> np.ndarray:
    """The (height, width) bool union of ``rings``; raise InvalidMask for rings that are
    not lists of at least three finite (x, y) points, or for more rings or points than a
    mask may have (:func:`~webapp.annotations.rle.check_polygon_count`).

    Scanline fill at pixel centres: for each row, where its centre line crosses a ring's
    edges, the pixels whose centres lie between pairs of that ring's crossings are set.
    Each ring's spans in a row are disjoint, so counting +1 at every span's start and -1
    at its end, for all rings at once, covers a pixel as many times as rings cover it:
    the union is where that count is positive, without a canvas per ring."""
    check_polygon_count(rings)
    assert isinstance(rings, Sequence)
    points = [ring_array(ring, number) for number, ring in enumerate(rings, start=1)]
    ring_of = np.repeat(np.arange(len(points)), [len(p) for p in points])
    x0, y0 = np.concatenate([p[:, 0] for p in points]), np.concatenate([p[:, 1] for p in points])
    # Each edge runs from a point to the next point of its ring, the last back to the first.
    x1 = np.concatenate([np.roll(p[:, 0], -1) for p in points])
    y1 = np.concatenate([np.roll(p[:, 1], -1) for p in points])
    # Row r's centre line y = r + 0.5 crosses an edge when it lies in [min y, max y):
    # half-open, so a vertex shared by two edges is counted once.
    first = np.clip(np.ceil(np.minimum(y0, y1) - 0.5), 0, height).astype(np.int64)
    last = np.clip(np.ceil(np.maximum(y0, y1) - 0.5), 0, height).astype(np.int64)
    keep = last > first
    edges = _Edges(ring_of[keep], x0[keep], y0[keep], x1[keep], y1[keep], first[keep], last[keep])
    mask = np.zeros((height, width), dtype=bool)
    # Crossings before each row, to cut bands that hold at most BAND_CROSSINGS of them.
    per_row = np.zeros(height + 1, dtype=np.int64)
    np.add.at(per_row, edges.first, 1)
    np.add.at(per_row, edges.last, -1)
    before = np.concatenate(([0], np.cumsum(np.cumsum(per_row)[:height])))
    band_rows = max(1, BAND_PIXELS // (width + 1))
    top = 0
    while top < height:
        fits = int(np.searchsorted(before, before[top] + BAND_CROSSINGS, side="right")) - 1
        bottom = max(top + 1, min(height, top + band_rows, fits))
        if before[bottom] > before[top]:
            mask[top:bottom] = _fill_band(edges, top, bottom, width)
        top = bottom
    return mask


class _Edges:
    """The edges of all rings that cross at least one row's centre: (E,) arrays of the
    ring each belongs to, its ends (x0, y0)-(x1, y1) in pixels, and the rows
    [first, last) whose centre lines it crosses."""

    def __init__(self, *arrays: np.ndarray) -> None:
        self.ring, self.x0, self.y0, self.x1, self.y1, self.first, self.last = arrays


def _fill_band(edges: _Edges, top: int, bottom: int, width: int) -> np.ndarray:
    """The (bottom - top, width) bool union of the rings' spans in rows [top, bottom)."""
    crossing = np.flatnonzero((edges.first < bottom) & (edges.last > top))
    low = np.maximum(edges.first[crossing], top)
    spans = np.minimum(edges.last[crossing], bottom) - low
    edge = np.repeat(crossing, spans)
    rows = np.repeat(low - np.cumsum(spans) + spans, spans) + np.arange(spans.sum())
    x0, y0, x1, y1 = edges.x0[edge], edges.y0[edge], edges.x1[edge], edges.y1[edge]
    t = (rows + 0.5 - y0) / (y1 - y0)
    crossings = x0 + t * (x1 - x0)
    order = np.lexsort((crossings, rows, edges.ring[edge]))
    rows, crossings = rows[order], crossings[order]
    # Each ring has an even number of crossings in each row (it is closed); pair them in
    # order, ring by ring and row by row.
    starts = np.clip(np.ceil(crossings[0::2] - 0.5), 0, width).astype(np.int64)
    ends = np.clip(np.ceil(crossings[1::2] - 0.5), 0, width).astype(np.int64)
    size = (bottom - top) * (width + 1)
    offsets = (rows[0::2] - top) * (width + 1)
    change = np.bincount(offsets + starts, minlength=size) - np.bincount(
        offsets + ends, minlength=size
    )
    counts = np.cumsum(change.reshape(bottom - top, width + 1), axis=1)
    return counts[:, :width] > 0
