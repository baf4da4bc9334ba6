"""Write ``frontend/test/vectors.json``: inputs and the Python side's answers for the
browser's pure helpers (coordinate transform, prompt packing, mask upscaling, COCO RLE).

The front-end tests check their results against this file, and
``tests/test_frontend_vectors.py`` checks that the file still matches Python, so both
sides are held to the same numbers. Run ``python scripts/frontend_vectors.py`` after a
change on the Python side.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from pycocotools import mask as coco_mask

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from export_onnx.runtime import prompt_arrays  # noqa: E402
from inference.predict import upscale_masks  # noqa: E402
from inference.transforms import IMAGE_SIZE, ResizeTransform  # noqa: E402

OUT = ROOT / "frontend" / "test" / "vectors.json"


def synthetic_logits() -> np.ndarray:
    """(256, 256) float32 logits both sides can make: ((i * 7919) % 1001 - 500) / 100,
    rounded to float32, row-major. The front end computes the same numbers."""
    i = np.arange(256 * 256, dtype=np.int64)
    return (((i * 7919) % 1001 - 500) / 100.0).astype(np.float32).reshape(256, 256)


def synthetic_mask(h: int, w: int, kind: str) -> np.ndarray:
    """(h, w) uint8 masks both sides can make, row-major index i = y * w + x."""
    i = np.arange(h * w, dtype=np.int64).reshape(h, w)
    if kind == "full":
        return np.ones((h, w), np.uint8)
    if kind == "empty":
        return np.zeros((h, w), np.uint8)
    if kind == "hashed":
        return (((i * 2654435761) % 4294967296) % 10 > 5).astype(np.uint8)
    yy, xx = np.mgrid[:h, :w]
    blob = ((yy - 30) ** 2 + (xx - 20) ** 2) < 200
    blob[28:32, 18:22] = False  # a hole
    return blob.astype(np.uint8)


def build() -> dict[str, object]:
    sizes = [(9, 17), (480, 640), (640, 480), (1000, 1), (3000, 4000), (451, 300)]
    transforms = []
    for h, w in sizes:
        t = ResizeTransform(h, w)
        points = [[0.0, 0.0], [w - 1.0, h - 1.0], [w / 3, h / 7]]
        transforms.append({
            "size": [h, w],
            "resized": list(t.resized),
            "points": points,
            "model": t.to_model(points).tolist(),
        })  # fmt: skip

    prompts = []
    for points, labels, box in [
        ([[10.5, 20.25]], [1], None),
        ([[10.0, 20.0], [300.0, 200.0]], [1, 0], None),
        (None, None, [5.0, 6.0, 400.0, 300.0]),
        ([[50.0, 60.0]], [0], [5.0, 6.0, 400.0, 300.0]),
    ]:
        coords, lbls = prompt_arrays(ResizeTransform(480, 640), points, labels, box)
        prompts.append({
            "size": [480, 640], "points": points or [], "positive": [bool(x) for x in labels or []],
            "box": box, "coords": coords.reshape(-1).tolist(), "labels": lbls.reshape(-1).tolist(),
        })  # fmt: skip

    upscales = []
    for h, w in [(9, 17), (300, 451), (700, 500), (1000, 1)]:
        logits = synthetic_logits()
        out = upscale_masks(torch.from_numpy(logits)[None, None], ResizeTransform(h, w))[0, 0]
        mask = np.asfortranarray((out.numpy() > 0).astype(np.uint8))
        upscales.append({
            "size": [h, w],
            "mask_counts": coco_mask.encode(mask)["counts"].decode("ascii"),
            "logits_sample": [float(out[i % h, (i * 7) % w]) for i in range(20)],
        })  # fmt: skip

    rles = []
    for h, w, kind in [(1, 1, "full"), (5, 4, "empty"), (7, 9, "hashed"), (64, 48, "blob"),
                       (60, 45, "hashed")]:  # fmt: skip
        m = synthetic_mask(h, w, kind)
        encoded = coco_mask.encode(np.asfortranarray(m))
        rles.append({
            "size": [h, w], "kind": kind, "counts": encoded["counts"].decode("ascii"),
            "area": int(m.sum()),
        })  # fmt: skip

    return {
        "image_size": IMAGE_SIZE,
        "transforms": transforms,
        "prompts": prompts,
        "upscales": upscales,
        "rles": rles,
    }


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(build(), separators=(",", ":")) + "\n")
    print(f"{OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
