"""Shared vectors: images with annotations (made from numpy masks) and the rule set that
checks them. The native tests, and the Pyodide runner's test that must give the same
problems, both read these."""

from __future__ import annotations

from typing import Any

import numpy as np

from inference import rle as codec

BUILTIN_SPEC: dict[str, Any] = {
    "version": 1,
    "rules": [
        {
            "name": "min_area",
            "builtin": "min_area",
            "params": {"areas": {"car": 30}, "severity": "error"},
        },
        {
            "name": "required",
            "builtin": "required_classes",
            "params": {"classes": ["road"], "severity": "error"},
        },
        {
            "name": "forbidden",
            "builtin": "forbidden_classes",
            "params": {"classes": ["ghost"], "severity": "warning"},
        },
        {
            "name": "max",
            "builtin": "max_instances",
            "params": {"max": {"sun": 1}, "severity": "error"},
        },
        {
            "name": "one_part",
            "builtin": "one_part",
            "params": {"classes": [], "connectivity": 8, "min_part_area": 0, "severity": "error"},
        },
        {
            "name": "one_part4",
            "builtin": "one_part",
            "params": {
                "classes": ["sun"],
                "connectivity": 4,
                "min_part_area": 2,
                "severity": "warning",
            },
        },
        {
            "name": "holes",
            "builtin": "no_holes",
            "params": {"classes": ["car"], "min_hole_area": 1, "severity": "warning"},
        },
        {
            "name": "overlap",
            "builtin": "no_overlap",
            "params": {"classes": [], "max_iou": 0.2, "severity": "error"},
        },
    ],
}

LABELS = ("car", "sun", "road", "ghost")


def annotation(ident: int, label: str, mask: np.ndarray) -> dict[str, Any]:
    encoded = codec.encode(mask)
    return {
        "id": ident,
        "label": label,
        "box": codec.bbox(encoded),
        "area": codec.area(encoded),
        "rle": encoded,
    }


def random_images(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` images of 20-60 px a side with 0-8 annotations each: random rectangles,
    some with a hole punched, some in two pieces, some overlapping."""
    rng = np.random.default_rng(seed)
    images = []
    ident = 1
    for n in range(count):
        height, width = (int(v) for v in rng.integers(20, 60, size=2))
        annotations = []
        for _ in range(int(rng.integers(0, 9))):
            mask = np.zeros((height, width), dtype=bool)
            for _piece in range(int(rng.integers(1, 3))):
                y, x = int(rng.integers(0, height - 3)), int(rng.integers(0, width - 3))
                h, w = int(rng.integers(1, height - y)), int(rng.integers(1, width - x))
                mask[y : y + h, x : x + w] = True
                if h > 2 and w > 2 and rng.random() < 0.4:
                    mask[
                        y + 1 + int(rng.integers(0, h - 2)), x + 1 + int(rng.integers(0, w - 2))
                    ] = False
            label = LABELS[int(rng.integers(0, len(LABELS)))]
            annotations.append(annotation(ident, label, mask))
            ident += 1
        images.append(
            {"width": width, "height": height, "name": f"img{n}.png", "annotations": annotations}
        )
    return images
