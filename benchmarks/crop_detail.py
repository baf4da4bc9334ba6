"""Crop encoding: how much better small objects in large images come out when clicks are
decoded on the embedding of a crop (what the annotator asks for when the user zooms in)
rather than on the whole image's.

Data: the GrabCut photos with their ground truth (``--grabcut``, default
``../shared/datasets/grabcut``). No large photos with ground truth are available offline,
so each photo is made a small object of a large image: a ``--width`` × ``--height``
canvas (6000 × 4000) is tiled with the other photos (each resized to 500 × 375), and the
photo is pasted into it at ``--scale`` times its size (1: its own 481 × 321 pixels) at a
seeded place, its mask at the same place.

Protocol: the window the user zooms to is the object's box grown by half on each side;
the crop is the server's for that window (``inference.crops.crop_box_for``: at least
1024 pixels square). Clicks follow the standard simulator (``inference.clicks``: first
click at the object's centre, then at the larger error; the first takes the best of
SAM's three masks, later ones the single mask with the previous logits), five clicks.
Both conditions decode the same clicks with MobileSAM's PyTorch decoder, one on the whole
canvas's embedding (the mask upsampled to the canvas), one on the crop's (upsampled to
the crop), and are scored inside the crop box, where the object is: mistakes of the whole
image's mask outside the box are not counted, in its favour. Embeddings come from the
worker's encoder (``export_onnx.encoder``, ``--backend``).

Scores: IoU without GrabCut's uncertain band, and the boundary F-score: precision and
recall of the predicted and true boundary pixels matched within ``--tolerance`` pixels
(a predicted boundary pixel in the uncertain band counts as matched), their harmonic
mean; means over the photos after 1, 3 and 5 clicks.

Run: ``python -m benchmarks.crop_detail [--limit N] [--scale 1]``; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy.ndimage import binary_erosion, distance_transform_edt

from benchmarks.grabcut import grabcut_photos
from benchmarks.machine import cpu_name
from inference.clicks import IGNORE, Click, iou, next_click
from inference.crops import CropBox, crop_box_for
from inference.registry import DEFAULT_MODEL
from inference.transforms import IMAGE_SIZE, ResizeTransform

DEFAULT_GRABCUT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "grabcut"
CLICKS = 5
REPORTED = (1, 3, 5)
TILE = (500, 375)  # width, height of the other photos tiling the canvas


@dataclass(frozen=True)
class LargeScene:
    """A canvas with one GrabCut photo pasted into it: the canvas (RGB), the ground truth
    at the canvas's size (255 object, 128 uncertain, 0 elsewhere), and the photo's place."""

    canvas: Image.Image
    truth: npt.NDArray[np.uint8]
    place: tuple[int, int, int, int]  # x0, y0, x1, y1


def large_scene(
    target: int,
    photos: list[tuple[Path, npt.NDArray[np.uint8]]],
    size: tuple[int, int],
    scale: float,
    seed: int,
) -> LargeScene:
    """Photo ``target`` pasted at ``scale`` into a ``size`` (width, height) canvas tiled
    with the others, at a place drawn with ``seed``."""
    width, height = size
    canvas = Image.new("RGB", size)
    others = [path for n, (path, _) in enumerate(photos) if n != target] or [photos[target][0]]
    n = 0
    for y in range(0, height, TILE[1]):
        for x in range(0, width, TILE[0]):
            with Image.open(others[n % len(others)]) as tile:
                canvas.paste(tile.convert("RGB").resize(TILE, Image.Resampling.BILINEAR), (x, y))
            n += 1
    path, gt = photos[target]
    with Image.open(path) as opened:
        photo = opened.convert("RGB")
    w, h = round(photo.width * scale), round(photo.height * scale)
    photo = photo.resize((w, h), Image.Resampling.BICUBIC)
    mask = np.asarray(Image.fromarray(gt).resize((w, h), Image.Resampling.NEAREST))
    rng = np.random.default_rng(seed + target)
    x0, y0 = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
    canvas.paste(photo, (x0, y0))
    truth = np.zeros((height, width), dtype=np.uint8)
    truth[y0 : y0 + h, x0 : x0 + w] = mask
    return LargeScene(canvas, truth, (x0, y0, x0 + w, y0 + h))


def zoom_window(truth: npt.NDArray[np.uint8]) -> list[float]:
    """The window the user zooms to: the object's box (band included) grown by half its
    size on each side."""
    ys, xs = np.nonzero(truth >= IGNORE)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    dx, dy = (x1 - x0) / 2, (y1 - y0) / 2
    return [float(x0 - dx), float(y0 - dy), float(x1 + dx), float(y1 + dy)]


def _axis(source: int, target: int, start: int, stop: int) -> tuple[Any, Any, Any]:
    """PyTorch's bilinear (align_corners=False) weights from ``source`` samples to output
    positions [start, stop) of ``target``: (lower index, upper index, upper weight)."""
    d = np.arange(start, stop, dtype=np.float64)
    s = np.maximum((d + 0.5) * source / target - 0.5, 0)
    lo = np.minimum(np.floor(s).astype(np.int64), source - 1)
    hi = np.minimum(lo + 1, source - 1)
    return lo, hi, (s - lo).astype(np.float32)


def mask_in_box(
    low_res: npt.NDArray[np.float32], image_size: tuple[int, int], box: CropBox
) -> npt.NDArray[np.bool_]:
    """Low-res logits (256, 256) of an image of ``image_size`` (height, width) -> its
    mask over ``box`` only (image pixels), exactly as upsampling to the whole image (SAM's
    rule: to 1024 square, cut to the resized image, to the original size) then cutting
    the box would give, without computing the rest."""
    import torch
    import torch.nn.functional as F

    transform = ResizeTransform(*image_size)
    rh, rw = transform.resized
    up = F.interpolate(
        torch.from_numpy(low_res)[None, None],
        (IMAGE_SIZE, IMAGE_SIZE),
        mode="bilinear",
        align_corners=False,
    )
    model = up[0, 0, :rh, :rw].numpy()
    ylo, yhi, yw = _axis(rh, image_size[0], box.y0, box.y1)
    xlo, xhi, xw = _axis(rw, image_size[1], box.x0, box.x1)
    rows = model[ylo] * (1 - yw)[:, None] + model[yhi] * yw[:, None]
    out = rows[:, xlo] * (1 - xw)[None, :] + rows[:, xhi] * xw[None, :]
    return out > 0.0


class Decoder:
    """SAM's PyTorch prompt decoder on one embedding of an image of ``image_size``; each
    call gives the chosen mask over ``box`` and its low-res logits."""

    def __init__(
        self,
        sam: Any,
        embedding: npt.NDArray[np.float32],
        image_size: tuple[int, int],
        box: CropBox,
        offset: tuple[int, int],
    ) -> None:
        import torch

        self.sam = sam
        self.embedding = torch.as_tensor(embedding, dtype=torch.float32).reshape(1, 256, 64, 64)
        self.image_size = image_size
        self.transform = ResizeTransform(*image_size)
        self.box = box  # in this image's pixels
        self.offset = offset  # box pixels -> this image's pixels

    def __call__(
        self, clicks: list[Click], previous: npt.NDArray[np.float32] | None
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
        import torch

        points = np.array(
            [[c.x + self.offset[0], c.y + self.offset[1]] for c in clicks], np.float32
        )
        coords = torch.as_tensor(self.transform.to_model(points))[None]
        labels = torch.as_tensor([[int(c.positive) for c in clicks]], dtype=torch.int64)
        mask_input = None
        if previous is not None:
            mask_input = torch.as_tensor(previous, dtype=torch.float32).reshape(1, 1, 256, 256)
        with torch.inference_mode():
            sparse, dense = self.sam.prompt_encoder((coords, labels), None, mask_input)
            low_res, scores = self.sam.mask_decoder(
                self.embedding,
                self.sam.prompt_encoder.get_dense_pe(),
                sparse,
                dense,
                len(clicks) == 1,
            )
        best = int(torch.argmax(scores[0]))
        logits = low_res[0, best].float().numpy()
        return mask_in_box(logits, self.image_size, self.box), logits


def boundary(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The mask's own pixels that touch a pixel outside it (4-neighbours, or the edge)."""
    return mask & ~binary_erosion(mask, border_value=0)


def boundary_f(pred: npt.NDArray[np.bool_], gt: npt.NDArray[np.uint8], tolerance: float) -> float:
    """Boundary F-score of ``pred`` against ``gt`` (255 object, 128 uncertain band)."""
    pred_b = boundary(pred)
    gt_b = boundary(gt == 255)
    if not pred_b.any() or not gt_b.any():
        return float(pred_b.any() == gt_b.any())
    to_gt = distance_transform_edt(~gt_b)
    to_pred = distance_transform_edt(~pred_b)
    matched = (to_gt <= tolerance) | (gt == IGNORE)
    precision = float(matched[pred_b].mean())
    recall = float((to_pred[gt_b] <= tolerance).mean())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def run(
    segment: Decoder, gt: npt.NDArray[np.uint8], tolerance: float
) -> tuple[list[float], list[float]]:
    """IoU and boundary F after each of CLICKS simulated clicks."""
    clicks: list[Click] = []
    pred: npt.NDArray[np.bool_] | None = None
    logits = None
    ious, fs = [], []
    for _ in range(CLICKS):
        clicks.append(next_click(pred, gt))
        pred, logits = segment(clicks, logits)
        ious.append(iou(pred, gt))
        fs.append(boundary_f(pred, gt, tolerance))
    return ious, fs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.crop_detail",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--grabcut", type=Path, default=DEFAULT_GRABCUT)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--start", type=int, default=0, help="skip the first photos")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"])
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--tolerance", type=float, default=2.0, help="pixels (boundary F)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from export_onnx.encoder import encode
    from inference.model import load_sam

    photos = grabcut_photos(args.grabcut, None)
    stop = None if args.limit is None else args.start + args.limit
    chosen = range(len(photos))[args.start : stop]
    sam = load_sam(args.model, "cpu")
    size = (args.height, args.width)
    results: dict[str, list[tuple[list[float], list[float]]]] = {"whole image": [], "crop": []}
    seconds: dict[str, list[float]] = {"whole image": [], "crop": []}
    crop_sides = []
    for target in chosen:
        scene = large_scene(target, photos, (args.width, args.height), args.scale, args.seed)
        box = crop_box_for(zoom_window(scene.truth), args.width, args.height)
        crop_sides.append(box.width)
        gt = scene.truth[box.y0 : box.y1, box.x0 : box.x1]
        started = time.perf_counter()
        whole = encode([scene.canvas], args.model, backend=args.backend)[0]
        seconds["whole image"].append(time.perf_counter() - started)
        started = time.perf_counter()
        crop_pixels = scene.canvas.crop((box.x0, box.y0, box.x1, box.y1))
        cropped = encode([crop_pixels], args.model, backend=args.backend)[0]
        seconds["crop"].append(time.perf_counter() - started)
        decoders = {
            "whole image": Decoder(sam, whole, size, box, (box.x0, box.y0)),
            "crop": Decoder(
                sam, cropped, (box.height, box.width), CropBox(0, 0, box.width, box.height), (0, 0)
            ),
        }
        for name, decoder in decoders.items():
            results[name].append(run(decoder, gt, args.tolerance))
        print(
            f"  {target + 1}/{len(chosen)} {photos[target][0].name}: crop {box.width}×"
            f"{box.height}, IoU@1 whole {results['whole image'][-1][0][0]:.3f} "
            f"crop {results['crop'][-1][0][0]:.3f}",
            file=sys.stderr,
            flush=True,
        )

    print(
        f"Crop encoding on {len(results['crop'])} GrabCut photos pasted at ×{args.scale:g} into "
        f"{args.width}×{args.height} canvases; crops {min(crop_sides)}-{max(crop_sides)} px; "
        f"{args.model}, {args.backend} encoder, boundary tolerance {args.tolerance:g} px; "
        f"{cpu_name()}"
    )
    print()
    header = " | ".join(
        [f"mIoU@{k}" for k in REPORTED] + [f"boundary F@{k}" for k in REPORTED] + ["encode s"]
    )
    print(f"| embedding | {header} |")
    print("|---" * (2 + 2 * len(REPORTED)) + "|")
    for name, runs in results.items():
        ious = [statistics.mean(r[0][k - 1] for r in runs) for k in REPORTED]
        fs = [statistics.mean(r[1][k - 1] for r in runs) for k in REPORTED]
        cells = [f"{v:.3f}" for v in ious + fs] + [f"{statistics.median(seconds[name]):.2f}"]
        print(f"| {name} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
