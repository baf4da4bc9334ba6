"""How closely the ONNX decoders agree with PyTorch, decode by decode (``python -m
benchmarks.model --grabcut DIR --agreement``).

On each GrabCut photo the click simulator places five clicks on PyTorch fp32's masks.
Every decoder then gets PyTorch's clicks and PyTorch's previous low-res logits (256, 256),
so that each decode is compared on its own, not after a chain of its own choices. The
IoU is taken between full-size masks (H, W). "Same candidate" compares, on the first
click, the candidate PyTorch chose; "flips" counts first clicks where the decoder's own
predicted IoUs chose another.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.grabcut import grabcut_photos
from inference.clicks import Click, next_click
from inference.encode import encode
from inference.predict import predict

CLICKS = 5
# (label, decoder variant); each ONNX decoder gets the float16 embedding the server stores
VARIANTS = [
    ("split int8, shipped", "split_int8"),
    ("SAM's low-res int8", "lowres_int8"),
    ("split fp32", "split_fp32"),
]


def _iou(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_]) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _summary(values: list[float]) -> str:
    v = np.asarray(values)
    return f"{v.mean():.3f}, {np.mean(v >= 0.99):.0%}, {np.percentile(v, 5):.3f}"


def agreement_rows(folder: Path, model: str, limit: int | None) -> list[str]:
    """Markdown rows: decoder | first click (mean IoU, share >= 0.99, 5th percentile)
    | later clicks (the same) | flips."""
    from export_onnx.runtime import OnnxDecoder

    decoders = {label: OnnxDecoder(variant, model) for label, variant in VARIANTS}
    first: dict[str, list[float]] = {label: [] for label in decoders}
    later: dict[str, list[float]] = {label: [] for label in decoders}
    flips = dict.fromkeys(decoders, 0)
    images = grabcut_photos(folder, limit)
    for n, (path, gt) in enumerate(images, 1):
        size = (int(gt.shape[0]), int(gt.shape[1]))
        embedding = encode([path], model)
        shipped = embedding.astype(np.float16).astype(np.float32)
        clicks: list[Click] = []
        pred: npt.NDArray[np.bool_] | None = None
        prev = None
        for k in range(CLICKS):
            clicks.append(next_click(pred, gt))
            pts = [[c.x, c.y] for c in clicks]
            lbl = [int(c.positive) for c in clicks]
            ref = predict(embedding, pts, lbl, mask_input=prev, multimask=k == 0,
                          image_size=size, model=model)  # fmt: skip
            best = int(np.argmax(ref.scores))
            for label, dec in decoders.items():
                out = dec.predict(shipped, pts, lbl, mask_input=prev, multimask=k == 0,
                                  image_size=size)  # fmt: skip
                (first if k == 0 else later)[label].append(_iou(out.masks[best], ref.masks[best]))
                flips[label] += int(np.argmax(out.scores)) != best
            pred, prev = ref.masks[best], ref.low_res_logits[best]
        print(f"  agreement: {n}/{len(images)} {path.name}", file=sys.stderr, flush=True)
    return [
        f"| {label} | {_summary(first[label])} | {_summary(later[label])} | "
        f"{flips[label]} / {len(images)} |"
        for label in decoders
    ]
