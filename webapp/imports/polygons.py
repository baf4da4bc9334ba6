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


def rings_to_mask(rings: object, height: int, width: int) -> np.ndarray:
    """The (height, width) bool union of ``rings``; raise InvalidMask for rings that are
    not lists of at least three finite (x, y) points, or for more rings or points than a
    mask may have (:func:`~webapp.annotations.rle.check_polygon_count`). Each ring is
    rasterised within its own bounding box, so many small rings cost little."""
    check_polygon_count(rings)
    assert isinstance(rings, Sequence)
    points = [ring_array(ring, number) for number, ring in enumerate(rings, start=1)]
    mask = np.zeros((height, width), dtype=bool)
    for ring in points:
        _fill_ring(mask, ring)
    return mask


def _fill_ring(mask: np.ndarray, points: np.ndarray) -> None:
    """Set in ``mask`` (H, W) the pixels inside ring ``points`` (N, 2), x then y.

    Scanline fill at pixel centres: for each row, where its centre line crosses the
    ring's edges, the pixels whose centres lie between pairs of crossings are set. Rows
    and crossings are computed in the image's own coordinates; only the counting array
    is limited to the box of rows and columns the ring reaches."""
    height, width = mask.shape
    x0, y0 = points[:, 0], points[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    # Row r's centre line y = r + 0.5 crosses an edge when it lies in [min y, max y):
    # half-open, so a vertex shared by two edges is counted once.
    first = np.clip(np.ceil(np.minimum(y0, y1) - 0.5), 0, height).astype(np.int64)
    last = np.clip(np.ceil(np.maximum(y0, y1) - 0.5), 0, height).astype(np.int64)
    spans = np.maximum(last - first, 0)
    if not spans.sum():
        return
    edge = np.repeat(np.arange(points.shape[0]), spans)
    rows = np.repeat(first - np.cumsum(spans) + spans, spans) + np.arange(spans.sum())
    t = (rows + 0.5 - y0[edge]) / (y1[edge] - y0[edge])
    crossings = x0[edge] + t * (x1[edge] - x0[edge])
    order = np.lexsort((crossings, rows))
    rows, crossings = rows[order], crossings[order]
    # Each row has an even number of crossings (the ring is closed); pair them in order.
    starts = np.clip(np.ceil(crossings[0::2] - 0.5), 0, width).astype(np.int64)
    ends = np.clip(np.ceil(crossings[1::2] - 0.5), 0, width).astype(np.int64)
    top, bottom = int(rows.min()), int(rows.max()) + 1
    left, right = int(starts.min()), int(ends.max())
    if right <= left:
        return
    change = np.zeros((bottom - top, right - left + 1), dtype=np.int64)
    np.add.at(change, (rows[0::2] - top, starts - left), 1)
    np.add.at(change, (rows[1::2] - top, ends - left), -1)
    mask[top:bottom, left:right] |= np.cumsum(change, axis=1)[:, : right - left] > 0
