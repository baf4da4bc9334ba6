"""``python -m benchmarks.everything --grabcut DIR``: segment-everything figures, with the
machine.

For each GrabCut photo (``DIR/images``, ground truth in ``DIR/masks``), from its stored
embedding (``--embeddings FOLDER`` keeps ``<stem>.npy`` files between runs; missing ones
are encoded with :func:`inference.encode.encode` and saved there):

- the time of the whole generation (:func:`inference.everything.generate`, from the
  embedding to the RLE masks) and the number of proposals;
- recall: whether some proposal overlaps the ground-truth object with IoU ≥ 0.5, 0.75,
  0.9 (IoU outside the ignored band, :func:`inference.clicks.iou`);
- NoC@85 / NoC@90 with the standard click simulator (:mod:`inference.clicks`), without
  proposals, and with them: there the first "click" may instead pick the proposal that
  overlaps the object best (when it beats the first click's mask); later clicks are the
  simulator's corrections, decoded with the proposal's grid point as the first positive
  point and the previous low-res logits fed back, as in :mod:`benchmarks.model`.

``--skip-covered-points both`` runs every photo twice, without and with
``EverythingParams.skip_covered_points`` (the grid decoded coarse to fine, points inside a
mask already found skipped), one right after the other so that both see the same load;
``--no-clicks`` leaves out the click simulator (times, proposals and recall only).

Prints markdown rows for ``docs/benchmarks.md``, the load average before and after, and
each photo's figures with the load while it ran.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from benchmarks.grabcut import grabcut_photos
from benchmarks.model import machine
from inference import everything, rle
from inference.clicks import Click, iou, next_click, number_of_clicks
from inference.encode import encode
from inference.everything import EverythingParams, MaskProposal, generate
from inference.model import load_sam
from inference.predict import predict
from inference.registry import DEFAULT_MODEL

RECALL_AT = (0.5, 0.75, 0.9)
MAX_CLICKS = 20


@dataclass(frozen=True)
class PhotoResult:
    name: str
    seconds: float
    cpu_seconds: float  # the process's CPU time during the generation (all threads)
    decoded: int  # grid points that went through the decoder
    proposals: int
    best_iou: float  # the best proposal's IoU with the object (0 when none)
    noc_without: tuple[int, int] | None  # NoC@85, NoC@90 (None: clicks not simulated)
    noc_with: tuple[int, int] | None
    load: float  # the 1-minute load average when the generation ended


def stored_embedding(path: Path, folder: Path | None, model: str) -> npt.NDArray[np.float32]:
    """``path``'s embedding (1, 256, 64, 64), from ``folder/<stem>.npy`` when there."""
    cached = folder / f"{path.stem}.npy" if folder else None
    if cached and cached.exists():
        return np.load(cached).astype(np.float32).reshape(1, 256, 64, 64)
    embedding = encode([path], model, device="cpu")
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached, embedding)
    return embedding


def click_ious(
    embedding: npt.NDArray[np.float32],
    gt: npt.NDArray[np.uint8],
    model: str,
    start: MaskProposal | None = None,
) -> list[float]:
    """IoU after each of up to MAX_CLICKS clicks; with ``start``, its mask is the first
    step and its grid point the first positive point of every later decode."""
    size = (int(gt.shape[0]), int(gt.shape[1]))
    clicks: list[Click] = []
    if start is not None:
        clicks.append(Click(int(start.point[0]), int(start.point[1]), True))
        pred: npt.NDArray[np.bool_] | None = rle.decode(start.rle)
        ious = [iou(pred, gt)]  # type: ignore[arg-type]
    else:
        pred, ious = None, []
    logits = None
    while len(ious) < MAX_CLICKS:
        clicks.append(next_click(pred, gt))
        out = predict(
            embedding,
            [[c.x, c.y] for c in clicks],
            [int(c.positive) for c in clicks],
            mask_input=logits,
            multimask=len(clicks) == 1,
            image_size=size,
            model=model,
        )
        best = int(np.argmax(out.scores))
        pred, logits = out.masks[best], out.low_res_logits[best]
        ious.append(iou(pred, gt))
        if len(ious) >= 5 and ious[-1] >= 0.9:
            break
    return ious


@contextmanager
def counting_decoded_points() -> Iterator[list[int]]:
    """Counts the grid points :func:`inference.everything.decode_points` decodes while the
    block runs: the count is the list's one item."""
    count = [0]
    original = everything.decode_points

    def counted(sam: Any, embedding: Any, coords: torch.Tensor, *rest: Any) -> Any:
        count[0] += len(coords)
        return original(sam, embedding, coords, *rest)

    everything.decode_points = counted  # type: ignore[assignment]
    try:
        yield count
    finally:
        everything.decode_points = original


def run_photo(
    path: Path,
    gt: npt.NDArray[np.uint8],
    params: EverythingParams,
    model: str,
    embeddings: Path | None,
    clicks: bool = True,
) -> PhotoResult:
    embedding = stored_embedding(path, embeddings, model)
    size = (int(gt.shape[0]), int(gt.shape[1]))
    start, cpu_start = time.perf_counter(), time.process_time()
    with counting_decoded_points() as decoded:
        proposals = generate(embedding, size, params, model)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    load = os.getloadavg()[0]
    overlaps = [iou(rle.decode(p.rle), gt) for p in proposals]
    best = int(np.argmax(overlaps)) if overlaps else -1
    noc_without = noc_with = None
    if clicks:
        without = click_ious(embedding, gt, model)
        with_proposals = without
        if best >= 0 and overlaps[best] > without[0]:
            with_proposals = click_ious(embedding, gt, model, proposals[best])
        noc_without = (number_of_clicks(without, 0.85), number_of_clicks(without, 0.9))
        noc_with = (number_of_clicks(with_proposals, 0.85), number_of_clicks(with_proposals, 0.9))
    return PhotoResult(
        name=path.name,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        decoded=decoded[0],
        proposals=len(proposals),
        best_iou=overlaps[best] if best >= 0 else 0.0,
        noc_without=noc_without,
        noc_with=noc_with,
        load=load,
    )


TABLE_HEAD = [
    "| grid | skip covered points | photos | points decoded/image mean "
    "| s/image median (min-max) | CPU s/image median "
    "| load during "
    "| proposals/image mean (min-max) | recall@0.5 / 0.75 / 0.9 | NoC@85 without / with "
    "| NoC@90 without / with |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
]


def report_row(results: Sequence[PhotoResult], params: EverythingParams) -> str:
    """One markdown row of TABLE_HEAD for ``results``, made with ``params``."""
    times = [r.seconds for r in results]
    counts = [r.proposals for r in results]
    loads = [r.load for r in results]
    recall = [np.mean([r.best_iou >= t for r in results]) for t in RECALL_AT]
    grid = f"{params.points_per_side}×{params.points_per_side}"
    noc85 = noc90 = "not run"
    pairs = [(r.noc_without, r.noc_with) for r in results]
    if all(without is not None and with_ is not None for without, with_ in pairs):
        noc = np.array([[*w, *p] for w, p in pairs if w and p], dtype=np.float64).mean(axis=0)
        noc85, noc90 = f"{noc[0]:.2f} / {noc[2]:.2f}", f"{noc[1]:.2f} / {noc[3]:.2f}"
    return (
        f"| {grid} | {'yes' if params.skip_covered_points else 'no'} | {len(results)} "
        f"| {np.mean([r.decoded for r in results]):.0f} "
        f"| {statistics.median(times):.2f} ({min(times):.2f}-{max(times):.2f}) "
        f"| {statistics.median(r.cpu_seconds for r in results):.2f} "
        f"| {min(loads):.1f}-{max(loads):.1f} "
        f"| {np.mean(counts):.1f} ({min(counts)}-{max(counts)}) | "
        + " / ".join(f"{r:.2f}" for r in recall)
        + f" | {noc85} | {noc90} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grabcut", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="the first N photos")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--points-per-side", type=int, default=32)
    parser.add_argument("--points-per-batch", type=int, default=EverythingParams.points_per_batch)
    parser.add_argument(
        "--skip-covered-points",
        choices=("no", "yes", "both"),
        default="both",
        help="generate without the option, with it, or both (default)",
    )
    parser.add_argument("--no-clicks", action="store_true", help="leave out NoC")
    parser.add_argument("--embeddings", type=Path, default=None, help="cache of .npy files")
    args = parser.parse_args(argv)

    switch = {"no": [False], "yes": [True], "both": [False, True]}[args.skip_covered_points]
    variants = [
        EverythingParams(
            points_per_side=args.points_per_side,
            points_per_batch=args.points_per_batch,
            skip_covered_points=skip,
        )
        for skip in switch
    ]
    load_sam(args.model, "cpu")
    print(f"machine: {machine()}; torch threads {torch.get_num_threads()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results: list[list[PhotoResult]] = [[] for _ in variants]
    for path, gt in grabcut_photos(args.grabcut, args.limit):
        for params, found in zip(variants, results, strict=True):
            result = run_photo(
                path, gt, params, args.model, args.embeddings, clicks=not args.no_clicks
            )
            found.append(result)
            noc = ""
            if result.noc_without is not None and result.noc_with is not None:
                noc = f", NoC@90 {result.noc_without[1]} -> {result.noc_with[1]}"
            print(
                f"  {result.name} (skip {params.skip_covered_points}): {result.seconds:.2f} s "
                f"({result.cpu_seconds:.2f} CPU s, {result.decoded} points decoded), "
                f"{result.proposals} proposals, best IoU {result.best_iou:.3f}{noc}; "
                f"load {result.load:.2f}",
                file=sys.stderr,
                flush=True,
            )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        "\n".join(TABLE_HEAD + [report_row(r, p) for r, p in zip(results, variants, strict=True)])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
