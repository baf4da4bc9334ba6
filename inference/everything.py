"""Segment everything: SAM's automatic mask generation on a stored image embedding.

A grid of single positive points (``points_per_side`` × ``points_per_side``, cell centres
of the original image) is decoded in batches by the model's prompt encoder and mask
decoder, with SAM's three candidates per point. A candidate is kept when the decoder's own
quality estimate (its predicted IoU) passes ``pred_iou_thresh`` and its *stability* passes
``stability_score_thresh``: the IoU of the mask thresholded at ``+offset`` with the mask
thresholded at ``-offset`` on the logits (``stability_score_offset``). Duplicates are then
removed by non-maximum suppression on the masks' boxes, best predicted IoU first.
Optionally, holes and islands smaller than ``min_mask_region_area`` pixels are removed
(the masks changed this way lose ties in a second suppression).

No second pass of the image encoder is needed: everything runs on the embedding the
worker stored. Only ``crop_n_layers > 0`` (the image cut into 2×2, 4×4... overlapping
crops, each decoded with its own grid, for large images with small objects) encodes
again, once per crop, and so needs the image and an encoder (:func:`generate`'s
``image`` and ``encoder``); it is off by default.

Cost on a CPU is dominated by the decoder's transformer, which runs once per point
(1,024 points at 32×32). Everything after it is spent only on what survives: the masks'
upsampling (256×256 logits to the decoder's output) runs only for points with a
candidate above ``pred_iou_thresh``, and only over the image's part of the model's square
input (a 3:2 photo fills two thirds of it); stability is first checked on the low-res logits
(with a margin, :data:`LOW_RES_STABILITY_MARGIN`) and checked exactly at full
resolution only for those that pass; full-resolution masks exist a few at a time and
are kept as COCO RLE.

Masks come out as :class:`MaskProposal`, in the original image's frame, with the COCO
RLE of :mod:`inference.rle`. Boxes are COCO's tight ``[x, y, width, height]`` (as
:func:`inference.rle.bbox`), where SAM's generator reports ``width = x1 - x0``, one less.

Command line: ``python -m inference.everything IMAGE... --out DIR [--model NAME]
[--points-per-side 32] ...`` encodes each image and writes ``DIR/<stem>.json``: a list
of ``{segmentation, area, bbox, predicted_iou, stability_score, point_coords}``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from inference import rle as rle_codec
from inference.allocator import keep_freed_memory
from inference.batched_decoder import (
    ImageSide,
    hypernetworks,
    point_tokens,
    predicted_ious,
    run_transformer,
    upscale_candidates,
)
from inference.encode import Encoder, preprocess
from inference.model import load_sam
from inference.modeling.sam import Sam
from inference.predict import low_res_extent, upscale_masks
from inference.prompts import MASK_THRESHOLD
from inference.registry import DEFAULT_MODEL
from inference.transforms import IMAGE_SIZE, LOW_RES_MASK_SIZE, ResizeTransform

# Stability is first estimated on the 256×256 logits, where it differs from the
# full-resolution figure by a few hundredths at most on the photos we measured; a
# candidate goes on to the exact check when its low-res stability is within this margin
# of the threshold.
LOW_RES_STABILITY_MARGIN = 0.05
# How many points' candidates are upscaled to 256×256 together, and how many candidates
# are upsampled to full resolution at once: few, so that the intermediate tensors stay
# in the CPU's cache (and, at full resolution, to bound the memory for large images:
# each candidate is an (H, W) float32 map).
UPSCALE_CHUNK = 2
# Points decoded together when ``points_per_batch`` is 0: on a CPU, 8 points keep each
# of a batch's (points, 4096, 128) float32 tensors at 16 MiB (a 32×32 grid took 17 s on
# a 2-core EPYC this way, 33 s with SAM's 64); a GPU wants large batches.
POINTS_PER_BATCH_CPU = 8
POINTS_PER_BATCH_GPU = 64
# A mask from a crop whose box comes this close (pixels) to a crop edge that is not an
# image edge is cut by the crop, and is dropped: another crop sees the object whole.
CROP_EDGE_TOLERANCE = 20.0


@dataclass(frozen=True)
class EverythingParams:
    """The settings of one generation; SAM's automatic mask generator's defaults."""

    points_per_side: int = 32  # the grid has points_per_side² points per crop
    # Points decoded together; 0: chosen for the device (POINTS_PER_BATCH_CPU on a CPU,
    # where a batch's tensors then stay in the cache, POINTS_PER_BATCH_GPU elsewhere).
    points_per_batch: int = 0
    pred_iou_thresh: float = 0.88  # keep candidates whose predicted IoU is above this
    stability_score_thresh: float = 0.95  # ... and whose stability is at least this
    stability_score_offset: float = 1.0  # the logit shift that stability compares
    box_nms_thresh: float = 0.7  # box IoU above which the lesser mask is a duplicate
    min_mask_region_area: int = 0  # holes and islands smaller than this are removed
    crop_n_layers: int = 0  # 0: the whole image only (no second encoder pass)
    crop_nms_thresh: float = 0.7  # duplicates between crops
    crop_overlap_ratio: float = 512 / 1500  # overlap of neighbouring crops, first layer
    crop_n_points_downscale_factor: int = 1  # layer i has points_per_side / factor**i
    # Not SAM's: decode the grid coarse to fine and skip a point inside the smallest
    # mask an earlier point found (fewer decodes; may miss parts inside found objects).
    skip_covered_points: bool = False

    def __post_init__(self) -> None:
        positive = ("points_per_side", "crop_n_points_downscale_factor")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
        for name in ("points_per_batch", "min_mask_region_area", "crop_n_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a whole number, 0 or more, not {value!r}")
        unit = (
            "pred_iou_thresh",
            "stability_score_thresh",
            "box_nms_thresh",
            "crop_nms_thresh",
            "crop_overlap_ratio",
        )
        for name in unit:
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number from 0 to 1, not {value!r}")
        if not isinstance(self.skip_covered_points, bool):
            raise ValueError(
                f"skip_covered_points must be true or false, not {self.skip_covered_points!r}"
            )
        offset = self.stability_score_offset
        if not isinstance(offset, int | float) or not 0.0 < offset < math.inf:
            raise ValueError(f"stability_score_offset must be a positive number, not {offset!r}")

    def as_dict(self) -> dict[str, int | float | bool]:
        """Every setting by name, for storing beside the proposals (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> EverythingParams:
        """Settings stored by :meth:`as_dict` (missing ones take their defaults);
        ValueError for an unknown name or a value out of range."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown generation settings: {', '.join(unknown)}")
        return cls(**dict(values))


@dataclass(frozen=True)
class MaskProposal:
    """One automatic mask, in the original image's frame."""

    rle: rle_codec.RLE  # compressed COCO RLE {"size": [h, w], "counts": str}
    area: int  # pixels set
    bbox: list[int]  # [x, y, width, height], tight, in pixels
    predicted_iou: float  # the decoder's estimate of the mask's IoU
    stability: float  # IoU of the mask at logit +offset with the mask at -offset
    point: tuple[float, float]  # the grid point that made it, original pixels, x then y

    def to_coco(self) -> dict[str, Any]:
        """The record SAM's generator writes in COCO RLE mode (without its crop box)."""
        return {
            "segmentation": self.rle,
            "area": self.area,
            "bbox": self.bbox,
            "predicted_iou": self.predicted_iou,
            "stability_score": self.stability,
            "point_coords": [list(self.point)],
        }


# ---- geometry and scores -------------------------------------------------------------


def point_grid(points_per_side: int) -> npt.NDArray[np.float64]:
    """The centres of an n × n grid of cells over the unit square: (n², 2), x then y,
    x varying fastest."""
    centres = (np.arange(points_per_side) + 0.5) / points_per_side
    xs, ys = np.meshgrid(centres, centres)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def stability_score(logits: torch.Tensor, offset: float) -> torch.Tensor:
    """Stability of each mask: logits (..., H, W) -> (...) float32.

    The IoU of the mask thresholded at ``MASK_THRESHOLD + offset`` with the mask
    thresholded at ``MASK_THRESHOLD - offset``; the first lies inside the second, so the
    IoU is the ratio of their areas. 0 where both are empty.
    """
    inner = (logits > MASK_THRESHOLD + offset).flatten(-2).sum(-1, dtype=torch.int64)
    outer = (logits > MASK_THRESHOLD - offset).flatten(-2).sum(-1, dtype=torch.int64)
    return torch.where(outer > 0, inner / outer.clamp(min=1), 0.0).float()


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Boxes of masks (N, H, W) bool -> (N, 4) int64 x0, y0, x1, y1, inclusive pixel
    indices; (0, 0, 0, 0) for an empty mask."""
    n, h, w = masks.shape
    if n == 0:
        return torch.zeros((0, 4), dtype=torch.int64)
    rows = masks.any(dim=2)  # (N, H)
    cols = masks.any(dim=1)  # (N, W)
    ys = torch.arange(h, device=masks.device)
    xs = torch.arange(w, device=masks.device)
    y1 = torch.where(rows, ys, -1).amax(dim=1)
    y0 = torch.where(rows, ys, h).amin(dim=1)
    x1 = torch.where(cols, xs, -1).amax(dim=1)
    x0 = torch.where(cols, xs, w).amin(dim=1)
    boxes = torch.stack([x0, y0, x1, y1], dim=1)
    empty = ~rows.any(dim=1)
    return torch.where(empty[:, None], 0, boxes).to(torch.int64)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of boxes a (N, 4) and b (M, 4), x0 y0 x1 y1 -> (N, M) float32.
    A box's area is ``(x1 - x0) * (y1 - y0)``; two empty boxes have IoU 0."""
    a, b = a.float(), b.float()
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-9), 0.0)


def box_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression: the indices (K,) int64 of the boxes kept, best
    score first. A box is dropped when its IoU with a better kept box is above
    ``iou_threshold``; equal scores keep their input order."""
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64)
    order = torch.argsort(scores, descending=True, stable=True)
    overlaps = box_iou(boxes[order], boxes[order]) > iou_threshold
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    kept: list[int] = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        kept.append(i)
        suppressed |= overlaps[i]
    return order[torch.tensor(kept, dtype=torch.int64)]


# ---- small regions -------------------------------------------------------------------


def _row_runs(mask: npt.NDArray[np.bool_]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The horizontal runs of set pixels: rows, starts, ends (exclusive), row-major."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    steps = np.diff(padded, axis=1)
    rows, starts = np.nonzero(steps == 1)
    _, ends = np.nonzero(steps == -1)
    return rows, starts, ends


def connected_runs(
    mask: npt.NDArray[np.bool_],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """8-connected components of a (H, W) bool mask, as runs: (rows, starts, ends,
    component) per run, the components numbered 0..C-1 in no particular order.

    Runs in neighbouring rows touch when they share a column or a corner; the
    components are found by propagating the smallest run number along those contacts,
    with pointer jumping, until nothing changes.
    """
    rows, starts, ends = _row_runs(mask)
    n = len(rows)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    stride = mask.shape[1] + 2
    start_keys = rows * stride + starts
    end_keys = rows * stride + ends
    # For each run b of row r + 1, the runs a of row r with a.end >= b.start and
    # a.start <= b.end touch it (the keys of row r lie below those of row r + 1).
    below = rows > 0
    b_index = np.flatnonzero(below)
    prev = (rows[below] - 1) * stride
    lo = np.searchsorted(end_keys, prev + starts[below], side="left")
    hi = np.searchsorted(start_keys, prev + ends[below], side="right")
    counts = np.maximum(hi - lo, 0)
    left = np.repeat(b_index, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    right = np.repeat(lo, counts) + offsets
    labels = np.arange(n)
    while True:
        smaller = np.minimum(labels[left], labels[right])
        updated = labels.copy()
        np.minimum.at(updated, left, smaller)
        np.minimum.at(updated, right, smaller)
        updated = updated[updated]
        while not np.array_equal(updated, updated[updated]):
            updated = updated[updated]
        if np.array_equal(updated, labels):
            break
        labels = updated
    _, component = np.unique(labels, return_inverse=True)
    return rows, starts, ends, component.astype(np.int64)


def _paint(
    shape: tuple[int, int], rows: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> npt.NDArray[np.bool_]:
    """A (H, W) bool mask with the given horizontal runs set."""
    steps = np.zeros((shape[0], shape[1] + 1), dtype=np.int32)
    np.add.at(steps, (rows, starts), 1)
    np.add.at(steps, (rows, ends), -1)
    return np.cumsum(steps, axis=1)[:, :-1] > 0


def remove_small_regions(
    mask: npt.NDArray[np.bool_], min_area: int
) -> tuple[npt.NDArray[np.bool_], bool]:
    """Fill the holes and drop the islands of ``mask`` (H, W) smaller than ``min_area``
    pixels (8-connected, as SAM's generator). Holes include background regions that touch
    the border. When every island is small, the largest is kept. Returns the mask and
    whether it changed."""
    changed = False
    holes = ~mask
    rows, starts, ends, comp = connected_runs(holes)
    if len(comp):
        sizes = np.bincount(comp, weights=ends - starts)
        small = sizes < min_area
        if small.any():
            keep = ~small[comp]
            mask = ~_paint(mask.shape, rows[keep], starts[keep], ends[keep])
            changed = True
    rows, starts, ends, comp = connected_runs(mask)
    if len(comp):
        sizes = np.bincount(comp, weights=ends - starts)
        small = sizes < min_area
        if small.any():
            big = ~small
            if not big.any():
                big[int(np.argmax(sizes))] = True
            keep = big[comp]
            mask = _paint(mask.shape, rows[keep], starts[keep], ends[keep])
            changed = True
    return mask, changed


# ---- decoding ------------------------------------------------------------------------


@dataclass
class _Candidates:
    """Masks that passed every filter of one crop, before duplicates are removed."""

    rles: list[rle_codec.RLE]
    boxes: list[torch.Tensor]  # (4,) int64 x0 y0 x1 y1 inclusive, original frame
    ious: list[float]
    stabilities: list[float]
    points: list[tuple[float, float]]  # original frame

    @classmethod
    def empty(cls) -> _Candidates:
        return cls([], [], [], [], [])

    def extend(self, other: _Candidates) -> None:
        self.rles += other.rles
        self.boxes += other.boxes
        self.ious += other.ious
        self.stabilities += other.stabilities
        self.points += other.points

    def box_tensor(self) -> torch.Tensor:
        return torch.stack(self.boxes) if self.boxes else torch.zeros((0, 4), dtype=torch.int64)

    def take(self, indices: Sequence[int]) -> _Candidates:
        return _Candidates(
            [self.rles[i] for i in indices],
            [self.boxes[i] for i in indices],
            [self.ious[i] for i in indices],
            [self.stabilities[i] for i in indices],
            [self.points[i] for i in indices],
        )


def decode_points(
    sam: Sam,
    embedding: torch.Tensor,
    coords: torch.Tensor,
    pred_iou_thresh: float,
    side: ImageSide | None = None,
    transform: ResizeTransform | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SAM's three candidates for each single positive point, above ``pred_iou_thresh``.

    embedding (1, 256, 64, 64); coords (B, 2) in model pixels, x then y; ``side``, the
    image's :class:`~inference.batched_decoder.ImageSide` when several batches share it.
    Returns the low-res logits (M, 256, 256) of the M candidates whose predicted IoU is
    above the threshold, their predicted IoU (M,) and the index (M,) of the point that
    made each. With the image's ``transform``, the logits are only those that the
    image's masks are made of (:func:`~inference.predict.low_res_extent`): (M, rows,
    columns), the top-left part of the 256 × 256, with the same values.

    This is :class:`~inference.modeling.mask_decoder.MaskDecoder` taken apart
    (:mod:`inference.batched_decoder`): the transformer runs for every point, the masks'
    upsampling and hypernetworks only for the points that have a candidate worth keeping.
    """
    decoder = sam.mask_decoder
    if side is None:
        side = ImageSide(decoder, sam.prompt_encoder, embedding)
    tokens = point_tokens(decoder, sam.prompt_encoder, coords)
    decoded = run_transformer(decoder, side, tokens)
    ious = predicted_ious(decoder, decoded.tokens)
    keep = ious > pred_iou_thresh  # (B, 3)
    rows = torch.nonzero(keep.any(dim=1)).flatten()
    full = (LOW_RES_MASK_SIZE, LOW_RES_MASK_SIZE)
    extent = full if transform is None else low_res_extent(transform)
    if len(rows) == 0:
        return torch.zeros((0, *extent)), torch.zeros(0), torch.zeros(0, dtype=torch.int64)
    hyper = hypernetworks(decoder, decoded.tokens[rows])  # (R, 3, c), in one pass
    region = _tokens_of(extent, side.grid)
    logits = torch.cat(
        [
            upscale_candidates(
                decoder,
                side,
                decoded,
                rows[i : i + UPSCALE_CHUNK],
                hyper[i : i + UPSCALE_CHUNK],
                region,
            )
            for i in range(0, len(rows), UPSCALE_CHUNK)
        ]
    )[..., : extent[0], : extent[1]]
    chosen = keep[rows]
    point_index = rows[:, None].expand(-1, 3)[chosen]
    return logits[chosen], ious[rows][chosen], point_index


def _tokens_of(extent: tuple[int, int], grid: tuple[int, int]) -> tuple[int, int]:
    """The top-left image tokens (rows, columns) of a ``grid`` (h, w) whose logits
    cover the low-res ``extent`` (each token makes LOW_RES_MASK_SIZE / h logits down and
    LOW_RES_MASK_SIZE / w across)."""
    down, across = LOW_RES_MASK_SIZE // grid[0], LOW_RES_MASK_SIZE // grid[1]
    return -(-extent[0] // down), -(-extent[1] // across)


def coarse_to_fine(points_per_side: int) -> list[npt.NDArray[np.int64]]:
    """The grid's point indices (row-major, as :func:`point_grid`) in three rounds: every
    4th row and column, then every 2nd, then the rest (each point once, rounds in
    row-major order)."""
    rows, cols = np.divmod(np.arange(points_per_side**2), points_per_side)
    level = np.full(points_per_side**2, 2)
    level[(rows % 2 == 1) & (cols % 2 == 1)] = 1
    level[(rows % 4 == 1) & (cols % 4 == 1)] = 0
    return [np.flatnonzero(level == i) for i in range(3)]


def _crop_candidates(
    sam: Sam,
    embedding: torch.Tensor,
    crop_box: tuple[int, int, int, int],
    image_size: tuple[int, int],
    points_per_side: int,
    params: EverythingParams,
) -> _Candidates:
    """The filtered masks of one crop (x0, y0, x1, y1) of the image, whose embedding is
    ``embedding``, from a points_per_side² grid; masks, boxes and points in the whole
    image's frame.

    With ``params.skip_covered_points`` the grid is decoded coarse to fine
    (:func:`coarse_to_fine`) and a point is skipped when it lies inside the smallest
    mask that passed the filters for a point decoded before it (a point inside an
    object already found mostly gives that object's masks again)."""
    x0, y0, x1, y1 = crop_box
    crop_h, crop_w = y1 - y0, x1 - x0
    transform = ResizeTransform(crop_h, crop_w)
    points = point_grid(points_per_side) * np.array([crop_w, crop_h], dtype=np.float64)
    model_points = torch.as_tensor(transform.to_model(points), device=sam.device)
    side = ImageSide(sam.mask_decoder, sam.prompt_encoder, embedding)
    per_batch = params.points_per_batch or (
        POINTS_PER_BATCH_CPU if embedding.device.type == "cpu" else POINTS_PER_BATCH_GPU
    )
    found = _Candidates.empty()
    if not params.skip_covered_points:
        for start in range(0, len(points), per_batch):
            batch = np.arange(start, min(start + per_batch, len(points)))
            found.extend(
                _decode_batch(sam, side, batch, model_points, points, crop_box, image_size, params)[
                    0
                ]
            )
    else:
        covered = torch.zeros((crop_h, crop_w), dtype=torch.bool)
        pixels = np.floor(points).astype(np.int64)
        pixels = np.minimum(np.maximum(pixels, 0), [crop_w - 1, crop_h - 1])
        for pending in coarse_to_fine(points_per_side):
            while len(pending):
                inside = covered[pixels[pending, 1], pixels[pending, 0]].numpy()
                pending = pending[~inside]
                batch, pending = (
                    pending[:per_batch],
                    pending[per_batch:],
                )
                if not len(batch):
                    break
                more, smallest = _decode_batch(
                    sam, side, batch, model_points, points, crop_box, image_size, params
                )
                found.extend(more)
                for mask in smallest:
                    covered |= mask
    kept = box_nms(found.box_tensor(), torch.tensor(found.ious), params.box_nms_thresh)
    return found.take(kept.tolist())


def _decode_batch(
    sam: Sam,
    side: ImageSide,
    batch: npt.NDArray[np.int64],
    model_points: torch.Tensor,
    points: npt.NDArray[np.float64],
    crop_box: tuple[int, int, int, int],
    image_size: tuple[int, int],
    params: EverythingParams,
) -> tuple[_Candidates, list[torch.Tensor]]:
    """The masks of the grid points ``batch`` (indices into ``points``, crop pixels, and
    ``model_points``) that pass the filters, and for each point with any, its smallest
    such mask (crop_h, crop_w) bool, in the crop's frame."""
    x0, y0, x1, y1 = crop_box
    crop_h, crop_w = y1 - y0, x1 - x0
    height, width = image_size
    transform = ResizeTransform(crop_h, crop_w)
    rh, rw = transform.resized
    scale = LOW_RES_MASK_SIZE / IMAGE_SIZE
    valid_h, valid_w = math.ceil(rh * scale), math.ceil(rw * scale)
    is_whole = crop_box == (0, 0, width, height)
    coords = model_points[torch.as_tensor(batch)]
    logits, ious, index = decode_points(
        sam, side.embedding, coords, params.pred_iou_thresh, side, transform
    )
    # A first, cheap stability check on the logits of the image's own area.
    rough = stability_score(logits[:, :valid_h, :valid_w], params.stability_score_offset)
    hopeful = rough >= params.stability_score_thresh - LOW_RES_STABILITY_MARGIN
    logits, ious, index = logits[hopeful], ious[hopeful], index[hopeful]
    found = _Candidates.empty()
    smallest: dict[int, tuple[int, torch.Tensor]] = {}
    for chunk in range(0, len(logits), UPSCALE_CHUNK):
        part = slice(chunk, chunk + UPSCALE_CHUNK)
        full = upscale_masks(logits[part][None], transform)[0]  # (k, crop_h, crop_w)
        stable = stability_score(full, params.stability_score_offset)
        masks = full > MASK_THRESHOLD
        boxes = masks_to_boxes(masks) + torch.tensor([x0, y0, x0, y0])
        for k in range(len(masks)):
            if stable[k] < params.stability_score_thresh or not masks[k].any():
                continue
            point = int(batch[int(index[part][k])])
            area = int(masks[k].sum())
            if point not in smallest or area < smallest[point][0]:
                smallest[point] = (area, masks[k])
            if not is_whole and _near_crop_edge(boxes[k], crop_box, image_size):
                continue
            mask = masks[k].cpu().numpy()
            if not is_whole:
                mask = np.pad(mask, ((y0, height - y1), (x0, width - x1)))
            px, py = points[point]
            found.extend(
                _Candidates(
                    [rle_codec.encode(mask)],
                    [boxes[k].cpu()],
                    [float(ious[part][k])],
                    [float(stable[k])],
                    [(float(px + x0), float(py + y0))],
                )
            )
    return found, [mask.cpu() for _, mask in smallest.values()]


def _near_crop_edge(
    box: torch.Tensor, crop_box: tuple[int, int, int, int], image_size: tuple[int, int]
) -> bool:
    """Whether ``box`` (x0 y0 x1 y1, image frame) touches a side of the crop that is
    inside the image, within CROP_EDGE_TOLERANCE pixels."""
    height, width = image_size
    crop = torch.tensor(crop_box, dtype=torch.float32)
    image = torch.tensor([0, 0, width, height], dtype=torch.float32)
    near_crop = torch.isclose(box.float(), crop, atol=CROP_EDGE_TOLERANCE, rtol=0)
    near_image = torch.isclose(box.float(), image, atol=CROP_EDGE_TOLERANCE, rtol=0)
    return bool((near_crop & ~near_image).any())


def crop_boxes(
    image_size: tuple[int, int], n_layers: int, overlap_ratio: float
) -> list[tuple[tuple[int, int, int, int], int]]:
    """The crops (x0, y0, x1, y1) and their layer: the whole image (layer 0), then for
    layer i ≥ 1 a 2^i × 2^i grid of crops overlapping their neighbours by
    ``overlap_ratio`` × the short side × 2 / 2^i pixels."""
    height, width = image_size
    crops: list[tuple[tuple[int, int, int, int], int]] = [((0, 0, width, height), 0)]
    for layer in range(1, n_layers + 1):
        per_side = 2**layer
        overlap = int(overlap_ratio * min(height, width) * 2 / per_side)
        crop_w = math.ceil((overlap * (per_side - 1) + width) / per_side)
        crop_h = math.ceil((overlap * (per_side - 1) + height) / per_side)
        for i in range(per_side):
            for j in range(per_side):
                cx, cy = int((crop_w - overlap) * i), int((crop_h - overlap) * j)
                box = (cx, cy, min(cx + crop_w, width), min(cy + crop_h, height))
                crops.append((box, layer))
    return crops


def generate(
    embedding: npt.ArrayLike,
    image_size: tuple[int, int],
    params: EverythingParams | None = None,
    model: str | Sam = DEFAULT_MODEL,
    *,
    image: Image.Image | npt.NDArray[np.uint8] | None = None,
    encoder: Encoder | None = None,
) -> list[MaskProposal]:
    """Every mask SAM finds in one image, best predicted IoU first.

    embedding: (1, 256, 64, 64) or (256, 64, 64) float, the image's stored embedding;
    image_size: (height, width) of the original image. ``image`` (the original pixels,
    RGB) and ``encoder`` (:class:`inference.encode.Encoder`, of the same model) are needed
    only when ``params.crop_n_layers > 0``: each crop is encoded anew.
    """
    params = params or EverythingParams()
    keep_freed_memory()
    sam = load_sam(model) if isinstance(model, str) else model
    height, width = image_size
    crops = crop_boxes(image_size, params.crop_n_layers, params.crop_overlap_ratio)
    if len(crops) > 1 and (image is None or encoder is None):
        raise ValueError("crop_n_layers > 0 encodes each crop: pass the image and an encoder")
    pixels = None if image is None else Image.fromarray(np.asarray(image)).convert("RGB")
    if pixels is not None and (pixels.height, pixels.width) != (height, width):
        raise ValueError(f"the image is {pixels.height}x{pixels.width}, not {height}x{width}")

    everything = _Candidates.empty()
    crop_areas: list[float] = []
    with torch.inference_mode():
        for box, layer in crops:
            if layer == 0:
                emb = np.asarray(embedding, dtype=np.float32)
            else:
                assert pixels is not None and encoder is not None
                emb = encoder(preprocess([pixels.crop(box)]))
            emb_t = torch.as_tensor(emb, device=sam.device).reshape(1, 256, 64, 64)
            per_side = params.points_per_side // params.crop_n_points_downscale_factor**layer
            found = _crop_candidates(sam, emb_t, box, image_size, max(per_side, 1), params)
            everything.extend(found)
            crop_areas += [float((box[2] - box[0]) * (box[3] - box[1]))] * len(found.rles)
        if len(crops) > 1:
            # Between crops, the mask from the smaller crop wins: it saw the object larger.
            scores = 1.0 / torch.tensor(crop_areas)
            kept = box_nms(everything.box_tensor(), scores, params.crop_nms_thresh)
            everything = everything.take(kept.tolist())
        if params.min_mask_region_area > 0:
            nms_thresh = max(params.box_nms_thresh, params.crop_nms_thresh)
            everything = _cleaned(everything, params.min_mask_region_area, nms_thresh)

    proposals = [
        MaskProposal(
            rle=rle,
            area=rle_codec.area(rle),
            bbox=rle_codec.bbox(rle),
            predicted_iou=iou,
            stability=stable,
            point=point,
        )
        for rle, iou, stable, point in zip(
            everything.rles,
            everything.ious,
            everything.stabilities,
            everything.points,
            strict=True,
        )
    ]
    return sorted(proposals, key=lambda p: -p.predicted_iou)


def _cleaned(found: _Candidates, min_area: int, nms_thresh: float) -> _Candidates:
    """Small holes and islands removed; then duplicates again, the masks that needed no
    change winning their ties."""
    unchanged: list[float] = []
    for i, rle in enumerate(found.rles):
        mask, changed = remove_small_regions(rle_codec.decode(rle), min_area)
        unchanged.append(0.0 if changed else 1.0)
        if changed:
            found.rles[i] = rle_codec.encode(mask)
            found.boxes[i] = masks_to_boxes(torch.from_numpy(mask)[None])[0]
    kept = box_nms(found.box_tensor(), torch.tensor(unchanged), nms_thresh)
    return found.take(kept.tolist())


# ---- command line --------------------------------------------------------------------


def _images(paths: Sequence[Path]) -> Iterator[tuple[Path, Image.Image | None]]:
    from inference.images import ImageRejected, load_image

    for path in paths:
        try:
            yield path, load_image(path)
        except ImageRejected as exc:
            print(f"error: {exc}", file=sys.stderr)
            yield path, None


def _yes_no(text: str) -> bool:
    """A command-line switch's value: true/false, yes/no, 1/0."""
    value = text.strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def main(argv: list[str] | None = None) -> int:
    from inference.encode import device_setting, encode, get_encoder

    parser = argparse.ArgumentParser(
        prog="python -m inference.everything",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder for the .json files")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: auto)")
    defaults = EverythingParams()
    for field in fields(EverythingParams):
        default = getattr(defaults, field.name)
        parser.add_argument(
            "--" + field.name.replace("_", "-"),
            type=_yes_no if isinstance(default, bool) else type(default),
            default=default,
            help=f"default {str(default).lower() if isinstance(default, bool) else f'{default:g}'}",
        )
    args = parser.parse_args(argv)
    try:
        params = EverythingParams.from_dict(
            {f.name: getattr(args, f.name) for f in fields(defaults)}
        )
    except ValueError as exc:
        parser.error(str(exc))
    stems = [p.stem for p in args.images]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        parser.error(f"several images are named {', '.join(duplicates)}; their masks would clash")

    device = device_setting(args.device)
    sam = load_sam(args.model, device)
    encoder = get_encoder(args.model, device) if params.crop_n_layers else None
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path, image in _images(args.images):
        if image is None:
            failed += 1
            continue
        embedding = encode([image], args.model, device=device)
        proposals = generate(
            embedding,
            (image.height, image.width),
            params,
            sam,
            image=image if encoder else None,
            encoder=encoder,
        )
        target = args.out / f"{path.stem}.json"
        target.write_text(json.dumps([p.to_coco() for p in proposals]))
        print(f"{target}: {len(proposals)} masks")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
