"""The standard click simulator of interactive-segmentation benchmarks (NoC@k).

Ground truth: (H, W) uint8, 255 object, 0 background, 128 an ignored band. The first
click is the object pixel farthest from the object's boundary; each next click is
the pixel farthest from the boundary of the larger error region: a positive click
in a false-negative region, a negative one in a false-positive region. The image
border counts as a boundary. IoU ignores the 128 band.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.ndimage import distance_transform_edt

Mask = npt.NDArray[np.bool_]
IGNORE = 128


@dataclass(frozen=True)
class Click:
    x: int
    y: int
    positive: bool


def iou(pred: Mask, gt: npt.NDArray[np.uint8]) -> float:
    """IoU of a predicted mask with the ground truth, outside the ignored band."""
    valid = gt != IGNORE
    obj = gt == 255
    inter = np.logical_and(pred, obj)[valid].sum()
    union = np.logical_or(pred, obj)[valid].sum()
    return float(inter / union) if union else 1.0


def _farthest_inside(region: Mask) -> tuple[int, int, float]:
    """(x, y, distance) of the pixel of ``region`` farthest from its boundary."""
    padded = np.pad(region, 1)
    dist = distance_transform_edt(padded)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(x), int(y), float(dist[y, x])


def next_click(pred: Mask | None, gt: npt.NDArray[np.uint8]) -> Click:
    """The next click for prediction ``pred`` (None before the first click)."""
    obj = gt == 255
    valid = gt != IGNORE
    if pred is None:
        x, y, _ = _farthest_inside(obj)
        return Click(x, y, True)
    fn = np.logical_and(obj, ~pred) & valid
    fp = np.logical_and(~obj, pred) & valid
    fx, fy, fd = _farthest_inside(fn)
    px, py, pd = _farthest_inside(fp)
    return Click(fx, fy, True) if fd >= pd else Click(px, py, False)


# A segmenter takes the clicks so far and the previous low-res logits (or None) and
# returns the new mask (H, W) and its low-res logits (256, 256).
Segmenter = Callable[[Sequence[Click], "npt.NDArray[np.float32] | None"],
                     tuple[Mask, "npt.NDArray[np.float32]"]]  # fmt: skip


def run_clicks(
    segment: Segmenter,
    gt: npt.NDArray[np.uint8],
    max_clicks: int = 20,
    stop_at: float = 0.90,
    min_clicks: int = 5,
) -> list[float]:
    """IoU after each click, up to ``max_clicks``; stops early once IoU >= ``stop_at``
    and at least ``min_clicks`` were made (later IoUs are not needed for NoC)."""
    clicks: list[Click] = []
    pred: Mask | None = None
    logits = None
    ious: list[float] = []
    for _ in range(max_clicks):
        clicks.append(next_click(pred, gt))
        pred, logits = segment(clicks, logits)
        ious.append(iou(pred, gt))
        if len(ious) >= min_clicks and ious[-1] >= stop_at:
            break
    return ious


def number_of_clicks(ious: Sequence[float], threshold: float, max_clicks: int = 20) -> int:
    """NoC@threshold: clicks needed to reach ``threshold`` (``max_clicks`` if never)."""
    for i, value in enumerate(ious, start=1):
        if value >= threshold:
            return i
    return max_clicks


def iou_after(ious: Sequence[float], clicks: int) -> float:
    """IoU after ``clicks`` clicks; the last value if the run stopped earlier."""
    return ious[min(clicks, len(ious)) - 1]
