"""Crops of large images, so that SAM sees a region at full detail.

SAM sees every image at 1024 pixels on its long side: on a 6000×4000 photo one model pixel
covers about six image pixels, and small objects come out coarse. Encoding a crop of the
image instead gives SAM that region at (up to) its own resolution.

Crops are snapped to a grid so that the windows people look at map onto few distinct
boxes, each encoded once and shared by everyone who zooms near it.

Frames:
- *original*: pixels of the whole image, x to the right in [0, width), y down.
- *crop*: pixels of a :class:`CropBox`, origin at its top-left corner:
  ``x_crop = x_orig - box.x0``, ``y_crop = y_orig - box.y0``; the crop is an image of
  ``box.height`` × ``box.width`` pixels.
- the crop's *model* frame: the crop resized so that its long side is 1024, exactly as a
  whole image is (:class:`inference.transforms.ResizeTransform` of the crop's size).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Crop corners lie on this grid of original pixels (except where a crop is pushed back
# inside the image at its right or bottom edge), so nearby windows share a crop.
GRID = 256
# The smallest crop side: SAM's input side. A smaller crop would only be enlarged.
MIN_CROP_SIDE = 1024
# Images whose long side is at most this are seen at full enough detail whole.
LARGE_IMAGE_SIDE = 2048
# A crop's side is at most this share of the image's long side (rounded up to the grid),
# else it would show hardly more detail than the whole image.
MAX_CROP_FRACTION = 0.5


class CropRefused(ValueError):
    """The window cannot be given a crop; the message says why, for a person."""


@dataclass(frozen=True)
class CropBox:
    """A crop of an image: columns [x0, x1) and rows [y0, y1), original pixels."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]

    def contains(self, window: Sequence[float]) -> bool:
        """Whether the window [x0, y0, x1, y1] (original pixels) lies inside the box."""
        x0, y0, x1, y1 = window
        return self.x0 <= x0 and self.y0 <= y0 and x1 <= self.x1 and y1 <= self.y1

    def to_crop(self, coords: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """(..., 2) original pixels, x then y -> crop pixels."""
        out = np.array(coords, dtype=np.float32, copy=True)
        out[..., 0] -= self.x0
        out[..., 1] -= self.y0
        return out

    def boxes_to_crop(self, boxes: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """(..., 4) boxes x0 y0 x1 y1 in original pixels -> crop pixels."""
        b = np.asarray(boxes, dtype=np.float32)
        return self.to_crop(b.reshape(*b.shape[:-1], 2, 2)).reshape(b.shape)

    def paste(
        self, mask: npt.NDArray[np.bool_], image_size: tuple[int, int]
    ) -> npt.NDArray[np.bool_]:
        """A (height, width) crop-frame mask -> an ``image_size`` (height, width) mask of
        the whole image, False outside the box."""
        if mask.shape[-2:] != (self.height, self.width):
            raise ValueError(f"a mask of {mask.shape} for a crop of {self.height}×{self.width}")
        out = np.zeros((*mask.shape[:-2], *image_size), dtype=bool)
        out[..., self.y0 : self.y1, self.x0 : self.x1] = mask
        return out


def max_crop_side(width: int, height: int) -> int:
    """The largest crop side allowed on a ``width`` × ``height`` image."""
    long_side = max(width, height)
    return max(MIN_CROP_SIDE, math.ceil(long_side * MAX_CROP_FRACTION / GRID) * GRID)


def crop_box_for(window: Sequence[float], width: int, height: int) -> CropBox:
    """The crop that holds ``window`` ([x0, y0, x1, y1], original pixels, the part of the
    image on screen) of a ``width`` × ``height`` image: its corners on the :data:`GRID`,
    square with a side of at least :data:`MIN_CROP_SIDE` (narrower only where the image
    is), grown evenly around the window and pushed back inside the image where it
    overflows. Always contains the window (clipped to the image). The same window and
    image always give the same box.

    :class:`CropRefused` when the window is not four finite numbers with x0 < x1 and
    y0 < y1 overlapping the image, the image is not larger than :data:`LARGE_IMAGE_SIDE`
    on its long side, or the window needs a crop larger than :func:`max_crop_side`.
    """
    if len(window) != 4 or not all(isinstance(v, int | float) and math.isfinite(v) for v in window):
        raise CropRefused("the window must be four finite numbers: x0, y0, x1, y1")
    wx0, wy0, wx1, wy1 = (float(v) for v in window)
    if not (wx0 < wx1 and wy0 < wy1):
        raise CropRefused("the window must have x0 < x1 and y0 < y1")
    if max(width, height) <= LARGE_IMAGE_SIDE:
        raise CropRefused(
            f"the image is {width}×{height}: SAM sees images up to {LARGE_IMAGE_SIDE} pixels "
            "on their long side at enough detail whole"
        )
    wx0, wy0 = max(wx0, 0.0), max(wy0, 0.0)
    wx1, wy1 = min(wx1, float(width)), min(wy1, float(height))
    if not (wx0 < wx1 and wy0 < wy1):
        raise CropRefused(f"the window lies outside the image ({width}×{height})")
    # The grid cells the window touches.
    gx0, gy0 = math.floor(wx0 / GRID) * GRID, math.floor(wy0 / GRID) * GRID
    gx1, gy1 = math.ceil(wx1 / GRID) * GRID, math.ceil(wy1 / GRID) * GRID
    side = max(gx1 - gx0, gy1 - gy0, MIN_CROP_SIDE)
    limit = max_crop_side(width, height)
    if side > limit:
        raise CropRefused(
            f"the window needs a crop of {side} pixels; crops of this image are at most "
            f"{limit} pixels on a side: zoom in further"
        )
    x0, x1 = _axis(gx0, gx1, side, width)
    y0, y1 = _axis(gy0, gy1, side, height)
    return CropBox(x0, y0, x1, y1)


def _axis(start: int, end: int, side: int, length: int) -> tuple[int, int]:
    """[start, end) (on the grid) grown evenly to ``side`` in whole grid cells, then
    pushed inside [0, length); the whole axis when it is shorter than ``side``."""
    if length <= side:
        return 0, length
    extra_cells = (side - (end - start)) // GRID
    start -= (extra_cells // 2) * GRID
    start = min(max(start, 0), length - side)
    return start, start + side
