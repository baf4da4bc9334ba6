"""``manifest.json``: what the browser (and the onnx encoder backend) needs to know.

Every number lives here once: the browser reads input names, sizes, normalisation
and label codes from the manifest instead of writing them down again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.prompts import (
    LABEL_BOX_BOTTOM_RIGHT,
    LABEL_BOX_TOP_LEFT,
    LABEL_NEGATIVE,
    LABEL_PADDING,
    LABEL_POSITIVE,
    MASK_THRESHOLD,
)
from inference.registry import ModelSpec, file_sha256
from inference.transforms import (
    EMBEDDING_SIZE,
    IMAGE_SIZE,
    LOW_RES_MASK_SIZE,
    PIXEL_MEAN,
    PIXEL_STD,
)

MANIFEST_FORMAT = 1
# The variant the annotator loads: quantized, without upsampling in the graph, split in
# two so that image-only work runs once per image (figures in docs/benchmarks.md).
BROWSER_DECODER = "split_int8"
# The variant whose masks equal PyTorch's (IoU >= 0.99 on every decode measured, where
# the 8-bit one misses on about 1 in 12): the annotator re-decodes each prompt with it
# while the user is idle, and saves its mask (see frontend/src/annotator/refine.ts).
EXACT_DECODER = "split_fp32"


@dataclass(frozen=True)
class DecoderVariant:
    name: str
    path: Path
    upsampled: bool
    precision: str  # "fp32" or "int8"
    # Split decoders: the graph run once per image, whose outputs ``path`` takes instead
    # of the embedding (see export_onnx.split_decoder).
    image_stage: Path | None = None
    # onnxruntime's graphOptimizationLevel for the browser: "basic" for files optimized
    # at build time (see export_onnx.optimize).
    graph_optimization: str = "all"


def _tensor_info(values: Any) -> list[dict[str, object]]:
    import onnx

    out = []
    for v in values:
        dims = [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name
        out.append({"name": v.name, "shape": dims, "dtype": dtype})
    return out


def _file_entry(path: Path) -> dict[str, object]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return {
        "file": path.name,
        "sha256": file_sha256(path),
        "size": path.stat().st_size,
        "inputs": _tensor_info(graph.input),
        "outputs": _tensor_info(graph.output),
    }


def build_manifest(
    spec: ModelSpec,
    variants: list[DecoderVariant],
    encoder: Path | None,
    *,
    build_version: int,
    opset: int,
    versions: dict[str, str],
) -> dict[str, object]:
    decoders = {}
    for v in variants:
        entry = _file_entry(v.path)
        entry["precision"] = v.precision
        entry["graph_optimization"] = v.graph_optimization
        entry["upsampled"] = v.upsampled
        if v.upsampled:
            entry["description"] = (
                "SAM's standard decoder: one mask, upsampled in the graph to orig_im_size"
            )
        else:
            entry["description"] = (
                "no upsampling in the graph: the caller upsamples the one mask it shows; "
                "faster than the standard decoder, the more so the larger the image "
                "(figures in docs/benchmarks.md)"
            )
        if v.image_stage is not None:
            entry["image_stage"] = _file_entry(v.image_stage)
            entry["description"] = str(entry["description"]) + (
                "; split in two: run image_stage once per image on the embedding and "
                "feed its outputs, by name, to this graph on every click"
            )
        entry["mask_selection"] = (
            "sam: token 0 if more than 2 points (incl. padding and box corners), "
            "else the best of tokens 1-3 by iou_predictions"
            if v.upsampled
            else "none: all 4 tokens returned; token 0 single mask, 1-3 multimask candidates"
        )
        decoders[v.name] = entry
    return {
        "format": MANIFEST_FORMAT,
        "build_version": build_version,
        "model": spec.name,
        "architecture": spec.architecture,
        "checkpoint_sha256": spec.sha256,
        "opset": opset,
        "image_size": IMAGE_SIZE,
        "embedding_shape": [1, 256, EMBEDDING_SIZE, EMBEDDING_SIZE],
        "low_res_mask_size": LOW_RES_MASK_SIZE,
        "pixel_mean": list(PIXEL_MEAN),
        "pixel_std": list(PIXEL_STD),
        "mask_threshold": MASK_THRESHOLD,
        "coordinates": (
            "model frame: original pixels scaled so the longest side is image_size, "
            "each axis by round(side * image_size / longest) / side"
        ),
        "point_labels": {
            "padding": LABEL_PADDING,
            "negative": LABEL_NEGATIVE,
            "positive": LABEL_POSITIVE,
            "box_top_left": LABEL_BOX_TOP_LEFT,
            "box_bottom_right": LABEL_BOX_BOTTOM_RIGHT,
        },
        "decoders": decoders,
        "browser_decoder": BROWSER_DECODER,
        "exact_decoder": EXACT_DECODER,
        "image_encoder": _file_entry(encoder) if encoder is not None else None,
        "created_with": versions,
    }


def read_manifest(out_dir: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((out_dir / "manifest.json").read_text())
    return manifest


def manifest_is_current(
    out_dir: Path, checkpoint_sha256: str, build_version: int, need_encoder: bool
) -> bool:
    """True when ``out_dir`` holds a complete build of this checkpoint by this code,
    every file present with the sha256 the manifest records."""
    path = out_dir / "manifest.json"
    if not path.exists():
        return False
    try:
        manifest = read_manifest(out_dir)
    except (OSError, ValueError):
        return False
    if (
        manifest.get("format") != MANIFEST_FORMAT
        or manifest.get("build_version") != build_version
        or manifest.get("checkpoint_sha256") != checkpoint_sha256
        or (need_encoder and not manifest.get("image_encoder"))
    ):
        return False
    entries = list(manifest.get("decoders", {}).values())
    entries += [e["image_stage"] for e in entries if e.get("image_stage")]
    if manifest.get("image_encoder"):
        entries.append(manifest["image_encoder"])
    for entry in entries:
        file = out_dir / entry["file"]
        if not file.is_file() or file.stat().st_size != entry["size"]:
            return False
        if file_sha256(file) != entry["sha256"]:
            return False
    return True
