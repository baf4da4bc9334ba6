"""``python -m benchmarks.everything_reference --grabcut DIR [--limit N]``: our segment
everything (:func:`inference.everything.generate`) beside Meta's own automatic mask
generator (``segment_anything.SamAutomaticMaskGenerator``, the PyPI release 1.0) on the
same stored MobileSAM embeddings, with the same parameters (SAM's defaults: a 32 × 32
grid, predicted IoU > 0.88, stability ≥ 0.95, box NMS 0.7, no crops).

The reference is fetched at benchmark time (``pip download --no-deps
segment-anything==1.0`` into the cache folder) and imported from its wheel; it is never
a dependency of the product. It imports torchvision for two things, which does not work
beside our torch: its box NMS (here :func:`inference.everything.box_nms`, the same greedy
rule) and image resizing (not used: the generator's ``set_image`` is replaced by one that
takes the stored embedding, so neither side runs the encoder). Its mask decoder is its own
``MaskDecoder``, loaded with MobileSAM's weights.

For each GrabCut photo (ground truth in ``DIR/masks``) it prints: the number of masks from
each, the seconds each took, recall of the ground-truth object (best IoU ≥ 0.5 / 0.75 /
0.9) for each, and how well the two sets agree: for each reference mask the best IoU of
ours (and the other way round), with the share at ≥ 0.9 and ≥ 0.99.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from benchmarks.everything import RECALL_AT, stored_embedding
from benchmarks.grabcut import grabcut_photos
from benchmarks.model import machine
from inference import rle
from inference.clicks import iou
from inference.everything import EverythingParams, box_nms, generate
from inference.model import load_sam
from inference.registry import DEFAULT_MODEL, cache_dir, get_model
from inference.weights import checkpoint_path

REFERENCE = "segment-anything==1.0"


def reference_wheel(folder: Path) -> Path:
    """The reference's wheel in ``folder``, downloaded there first if missing."""
    found = sorted(folder.glob("segment_anything-1.0-*.whl"))
    if not found:
        folder.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-q"]
        subprocess.run([*pip, REFERENCE, "-d", str(folder)], check=True)
        found = sorted(folder.glob("segment_anything-1.0-*.whl"))
    return found[0]


def _batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """torchvision's batched NMS for the reference: boxes of different categories never
    suppress each other (shifted apart by category), greedy NMS within one."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.int64)
    shift = idxs.to(boxes.dtype)[:, None] * (boxes.max() + 1)
    return box_nms(boxes + shift, scores, iou_threshold)


def _no_resize(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("the reference's image resizing is not used: embeddings are stored")


def import_reference(wheel: Path) -> Any:
    """The reference package, imported from its wheel with the two torchvision functions
    it asks for provided (see the module's docstring)."""
    boxes = types.ModuleType("torchvision.ops.boxes")
    boxes.batched_nms = _batched_nms  # type: ignore[attr-defined]
    boxes.box_area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # type: ignore[attr-defined]
    functional = types.ModuleType("torchvision.transforms.functional")
    functional.resize = _no_resize  # type: ignore[attr-defined]
    functional.to_pil_image = _no_resize  # type: ignore[attr-defined]
    for name in ("torchvision", "torchvision.ops", "torchvision.transforms"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["torchvision.ops.boxes"] = boxes
    sys.modules["torchvision.transforms.functional"] = functional
    sys.path.insert(0, str(wheel))
    import segment_anything

    return segment_anything


def reference_generator(sa: Any, model: str, params: EverythingParams) -> Any:
    """The reference's generator over a SAM of its own classes, with MobileSAM's prompt
    encoder and mask decoder weights and no image encoder (embeddings are stored)."""
    from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    encoder = torch.nn.Module()
    encoder.img_size = 1024  # type: ignore[assignment]
    prompt_encoder = PromptEncoder(
        embed_dim=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024),
        mask_in_chans=16,
    )  # fmt: skip
    mask_decoder = MaskDecoder(
        num_multimask_outputs=3,
        transformer=TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8),
        transformer_dim=256, iou_head_depth=3, iou_head_hidden_dim=256,
    )  # fmt: skip
    sam = Sam(image_encoder=encoder, prompt_encoder=prompt_encoder, mask_decoder=mask_decoder)
    state = torch.load(checkpoint_path(get_model(model)), map_location="cpu", weights_only=True)
    wanted = ("prompt_encoder.", "mask_decoder.")
    decoder_state = {k: v for k, v in state.items() if k.startswith(wanted)}
    missing = sam.load_state_dict(decoder_state, strict=False)
    assert not [k for k in missing.missing_keys if k.startswith(wanted)], missing.missing_keys
    sam.eval()
    return sa.SamAutomaticMaskGenerator(
        sam,
        points_per_side=params.points_per_side,
        points_per_batch=params.points_per_batch or 64,
        pred_iou_thresh=params.pred_iou_thresh,
        stability_score_thresh=params.stability_score_thresh,
        stability_score_offset=params.stability_score_offset,
        box_nms_thresh=params.box_nms_thresh,
        crop_n_layers=0,
        min_mask_region_area=0,
        output_mode="binary_mask",
    )


def reference_masks(
    generator: Any, embedding: npt.NDArray[np.float32], size: tuple[int, int]
) -> list[npt.NDArray[np.bool_]]:
    """The reference's masks (H, W) bool for the photo of ``size`` (height, width) whose
    stored embedding is ``embedding`` (1, 256, 64, 64)."""
    predictor = generator.predictor

    def set_image(image: npt.NDArray[np.uint8], image_format: str = "RGB") -> None:
        predictor.reset_image()
        predictor.original_size = size
        predictor.input_size = predictor.transform.get_preprocess_shape(*size, 1024)
        predictor.features = torch.from_numpy(embedding.reshape(1, 256, 64, 64))
        predictor.is_image_set = True

    predictor.set_image = set_image
    with torch.inference_mode():
        records = generator.generate(np.zeros((*size, 3), dtype=np.uint8))
    return [np.asarray(r["segmentation"], dtype=bool) for r in records]


def best_ious(
    these: list[npt.NDArray[np.bool_]], others: list[npt.NDArray[np.bool_]]
) -> list[float]:
    """For each mask of ``these``, the best plain IoU with a mask of ``others``."""
    if not these:
        return []
    if not others:
        return [0.0] * len(these)
    a = np.stack(these).reshape(len(these), -1).astype(np.float32)
    b = np.stack(others).reshape(len(others), -1).astype(np.float32)
    inter = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    return list((inter / np.maximum(union, 1)).max(axis=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grabcut", type=Path, required=True, help="the GrabCut folder")
    parser.add_argument("--limit", type=int, default=None, help="the first N photos")
    parser.add_argument("--embeddings", type=Path, default=None, help="stored embeddings")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args(argv)

    params = EverythingParams()
    sa = import_reference(reference_wheel(cache_dir() / "reference"))
    generator = reference_generator(sa, args.model, params)
    ours_model = load_sam(args.model, device="cpu")
    print(machine())
    print(f"load average at the start: {os.getloadavg()}")
    rows: list[dict[str, Any]] = []
    for path, gt in grabcut_photos(args.grabcut, args.limit):
        embedding = stored_embedding(path, args.embeddings, args.model)
        size = (int(gt.shape[0]), int(gt.shape[1]))
        start = time.perf_counter()
        theirs = reference_masks(generator, embedding, size)
        their_s = time.perf_counter() - start
        start = time.perf_counter()
        proposals = generate(embedding, size, params, ours_model)
        ours = [rle.decode(p.rle).astype(bool) for p in proposals]
        our_s = time.perf_counter() - start
        best = tuple(max((iou(m, gt) for m in masks), default=0.0) for masks in (theirs, ours))
        matched = best_ious(theirs, ours)
        row: dict[str, Any] = {
            "name": path.name,
            "counts": (len(theirs), len(ours)),
            "seconds": (their_s, our_s),
            "gt": best,
            "theirs_in_ours": matched,
            "ours_in_theirs": best_ious(ours, theirs),
            "load": os.getloadavg()[0],
        }
        rows.append(row)
        print(
            f"{row['name']}: masks reference {len(theirs)} / ours {len(ours)}; "
            f"{their_s:.1f} / {our_s:.1f} s; best IoU with the object {best[0]:.3f} / "
            f"{best[1]:.3f}; reference masks matched by ours at IoU ≥ 0.9: "
            f"{np.mean(np.array(matched) >= 0.9) if theirs else float('nan'):.2f}; "
            f"load {row['load']:.1f}",
            flush=True,
        )
    report(rows)
    print(f"load average at the end: {os.getloadavg()}")
    return 0


def report(rows: list[dict[str, Any]]) -> None:
    """The summary table's rows (markdown) for ``docs/benchmarks.md``."""
    theirs_in_ours = np.array([v for r in rows for v in r["theirs_in_ours"]])
    ours_in_theirs = np.array([v for r in rows for v in r["ours_in_theirs"]])
    print("\n| | reference (segment-anything 1.0) | ours |")
    print("|---|---|---|")
    counts = [[r["counts"][k] for r in rows] for k in (0, 1)]
    spread = [f"{np.mean(c):.1f} ({min(c)}-{max(c)})" for c in counts]
    print(f"| masks per photo, mean (min-max) | {spread[0]} | {spread[1]} |")
    secs = [statistics.median(r["seconds"][k] for r in rows) for k in (0, 1)]
    print(f"| seconds per photo, median | {secs[0]:.1f} | {secs[1]:.1f} |")
    for t in RECALL_AT:
        rec = [np.mean([r["gt"][k] >= t for r in rows]) for k in (0, 1)]
        print(f"| recall of the object at IoU ≥ {t} | {rec[0]:.2f} | {rec[1]:.2f} |")
    print(
        f"| masks with a match in the other set at IoU ≥ 0.9 / 0.99 "
        f"| {np.mean(theirs_in_ours >= 0.9):.3f} / {np.mean(theirs_in_ours >= 0.99):.3f} "
        f"| {np.mean(ours_in_theirs >= 0.9):.3f} / {np.mean(ours_in_theirs >= 0.99):.3f} |"
    )
    print(f"| photos | {len(rows)} | {len(rows)} |")


if __name__ == "__main__":
    raise SystemExit(main())
