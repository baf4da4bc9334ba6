"""Masks as the web app receives them: COCO RLE (the codec lives in :mod:`inference.rle`
and is re-exported here under the same names) and polygons, rasterised with Pillow.

Everything here is a pure function; malformed input raises :class:`InvalidMask` (a
``ValueError``) with a message a person can act on.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw

from inference.rle import RLE, InvalidMask, area, bbox, decode, encode, normalize

__all__ = [
    "MAX_DRAWN_IMAGES",
    "MAX_RINGS",
    "MAX_RING_POINTS",
    "RLE",
    "InvalidMask",
    "area",
    "bbox",
    "check_polygon_count",
    "decode",
    "encode",
    "is_finite_number",
    "normalize",
    "polygon_to_mask",
    "ring_array",
    "ring_points",
]

# A mask sent as polygons has at most this many rings and points in all: hand-drawn and
# traced outlines stay far below, and each ring costs a rasterisation (a mask of many
# small pieces is better sent as an RLE).
MAX_RINGS = 1_000
MAX_RING_POINTS = 100_000
# Each ring is drawn on a canvas of the rows it spans; all canvases together may hold at
# most this many times the image's pixels (1,000 rings each as large as a 4000 x 3000
# image took 31 s; 64 of them take about 2 s).
MAX_DRAWN_IMAGES = 64


def polygon_to_mask(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Rasterise polygons into an (height, width) bool mask.

    ``polygons`` is a list of rings, each flat ``[x1, y1, x2, y2, ...]`` in pixels of the
    image (x right, y down), at least 3 points; at most MAX_RINGS rings and MAX_RING_POINTS
    points in all. Rings combine by the even-odd rule, so a ring inside another cuts a hole.

    Each ring is drawn by Pillow on a canvas of only the rows it spans (and the columns
    from 0 to its right edge), shifted up by a whole number of rows: Pillow rounds each
    vertex to whole pixels first, and a shift by whole rows changes none of its arithmetic,
    so the pixels are those a full-size canvas gives, at a fraction of the cost.
    """
    if not _is_positive_int(height) or not _is_positive_int(width):
        raise InvalidMask(f"the mask size must be positive whole numbers, not {height}x{width}")
    check_polygon_count(polygons)
    rings = [ring_array(ring, number) for number, ring in enumerate(polygons, start=1)]
    drawn = sum(
        max(0, min(height, math.ceil(p[:, 1].max()) + 2) - max(0, math.floor(p[:, 1].min()) - 1))
        * max(0, min(width, math.ceil(p[:, 0].max()) + 2))
        for p in rings
    )
    if drawn > MAX_DRAWN_IMAGES * height * width:
        raise InvalidMask(
            f"the polygons' rings together cover {drawn / (height * width):.0f} times the "
            f"image; at most {MAX_DRAWN_IMAGES} are drawn (send a mask of many large pieces "
            "as an RLE)"
        )
    mask = np.zeros((height, width), dtype=bool)
    for points in rings:
        # Pillow rounds negative coordinates towards zero, not down, so a ring is shifted
        # only when all its vertices stay at row 1 or below: rounding then commutes with
        # the shift. A ring that reaches above row 2 is drawn where it is.
        low = math.floor(points[:, 1].min())
        top = low - 1 if low > 1 else 0
        bottom = min(height, math.ceil(points[:, 1].max()) + 2)
        right = min(width, math.ceil(points[:, 0].max()) + 2)
        if bottom <= top or right <= 0:
            continue  # wholly outside the image
        shifted = points - (0.0, float(top))
        canvas = PILImage.new("1", (right, bottom - top), 0)
        ImageDraw.Draw(canvas).polygon(shifted.ravel().tolist(), fill=1, outline=1)
        mask[top:bottom, :right] ^= np.asarray(canvas, dtype=bool)
    return mask


def check_polygon_count(polygons: object) -> None:
    """Raise InvalidMask unless ``polygons`` is a non-empty list of at most MAX_RINGS
    rings with at most MAX_RING_POINTS points in all (each ring is checked later)."""
    if isinstance(polygons, str | bytes) or not isinstance(polygons, Sequence) or not polygons:
        raise InvalidMask("polygons must be a non-empty list of rings [x1, y1, x2, y2, ...]")
    if len(polygons) > MAX_RINGS:
        raise InvalidMask(
            f"{len(polygons):,} polygons; a mask may have at most {MAX_RINGS:,} "
            "(send a mask of many pieces as an RLE)"
        )
    points = sum(
        len(ring) // 2
        for ring in polygons
        if isinstance(ring, Sequence) and not isinstance(ring, str | bytes)
    )
    if points > MAX_RING_POINTS:
        raise InvalidMask(
            f"{points:,} polygon points; a mask may have at most {MAX_RING_POINTS:,} "
            "(simplify the outline or send an RLE)"
        )


def ring_points(ring: object, number: int) -> list[tuple[float, float]]:
    """The (x, y) points of flat ring ``[x1, y1, x2, y2, ...]``, the ``number``-th of its
    annotation; InvalidMask unless it has at least three finite points."""
    return [(x, y) for x, y in ring_array(ring, number).tolist()]


def ring_array(ring: object, number: int) -> np.ndarray:
    """The points of flat ring ``[x1, y1, x2, y2, ...]`` (a sequence of numbers, such as
    a list or an ``array('d')``), the ``number``-th of its annotation, as (N, 2) float64,
    x then y; InvalidMask unless it has at least three finite points."""
    if isinstance(ring, str | bytes) or not isinstance(ring, Sequence):
        raise InvalidMask(f"polygon {number} must be a flat list [x1, y1, x2, y2, ...]")
    if len(ring) % 2:
        raise InvalidMask(f"polygon {number} has an odd number of coordinates ({len(ring)})")
    if len(ring) < 6:
        raise InvalidMask(f"polygon {number} has {len(ring) // 2} points; it needs at least 3")
    not_finite = f"polygon {number} has a coordinate that is not a finite number"
    if isinstance(ring, array) and ring.typecode == "d":
        values = np.array(ring, dtype=np.float64)
        if not np.isfinite(values).all():
            raise InvalidMask(not_finite)
    elif all(is_finite_number(value) for value in ring):
        values = np.array(ring, dtype=np.float64)
    else:
        raise InvalidMask(not_finite)
    return values.reshape(-1, 2)


def is_finite_number(value: object) -> bool:
    """Whether ``value`` is an int or float (not a bool) that converts to a finite float:
    JSON's ``1e999`` parses as infinity and ``1`` followed by 400 zeros as an int that no
    float holds (float() of it raises OverflowError); neither is a finite number."""
    if not isinstance(value, int | float | np.integer | np.floating) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _is_positive_int(value: object) -> bool:
    return bool(isinstance(value, int | np.integer) and not isinstance(value, bool) and value > 0)
