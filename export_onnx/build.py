"""``build_onnx``: a model's decoders and image encoder as ONNX, plus ``manifest.json``.

Files written into ``out_dir`` (default ``inference.registry.onnx_dir(model)``):

- ``decoder_fp32.onnx``          SAM's standard ONNX decoder (upsampled, one mask)
- ``decoder_int8.onnx``          the same, weights quantized to uint8 (dynamic, per tensor)
- ``decoder_lowres_fp32.onnx``   all four low-res masks, no upsampling in the graph
- ``decoder_lowres_int8.onnx``   the same, quantized
- ``decoder_split_fp32.onnx``    the low-res decoder split in two for speed: the per-click part,
                                 with ``image_stage_fp32.onnx``, run once per image
                                 (see :mod:`export_onnx.split_decoder`)
- ``decoder_split_int8.onnx``    the same, quantized with a scale per output channel (closer
                                 to fp32 than per tensor, and the upscaling's products can
                                 be int8 too), with ``image_stage_int8.onnx``;
                                 the split files are saved already optimized by onnxruntime
                                 (see :mod:`export_onnx.optimize`)
- ``image_encoder.onnx``         the image encoder, (N, 3, 1024, 1024) -> (N, 256, 64, 64)
- ``manifest.json``              every file with its sha256, and every number the browser needs

A second run with an unchanged checkpoint and build code only verifies the files.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from export_onnx.manifest import (
    DecoderVariant,
    build_manifest,
    manifest_is_current,
    read_manifest,
)
from inference.registry import DEFAULT_MODEL, get_model, onnx_dir
from inference.weights import checkpoint_path, fetch

log = logging.getLogger(__name__)

# Bump when the graphs or the manifest change, so that cached builds are redone.
BUILD_VERSION = 17


@dataclass(frozen=True)
class OnnxBuild:
    out_dir: Path
    manifest: dict[str, object]
    reused: bool  # True when the files were already there and verified


def build_onnx(
    model: str = DEFAULT_MODEL,
    out_dir: Path | None = None,
    *,
    image_encoder: bool = True,
    force: bool = False,
) -> OnnxBuild:
    """Build ``model`` into ``out_dir``; reuse a complete, verified earlier build."""
    spec = get_model(model)
    out_dir = Path(out_dir) if out_dir is not None else onnx_dir(model)
    checkpoint = fetch(model) if not checkpoint_path(spec).exists() else checkpoint_path(spec)
    if not force and manifest_is_current(out_dir, spec.sha256, BUILD_VERSION, image_encoder):
        return OnnxBuild(out_dir, read_manifest(out_dir), reused=True)

    # torch and onnx are imported only when there is work to do: checking an
    # up-to-date build stays quick.
    import onnx
    import onnxruntime
    import torch

    from export_onnx.graphs import (
        OPSET,
        quantize,
        write_decoder,
        write_image_encoder,
        write_split_decoder,
    )
    from export_onnx.optimize import BROWSER_LEVEL, optimize_offline
    from inference.model import load_checkpoint

    out_dir.mkdir(parents=True, exist_ok=True)
    sam = load_checkpoint(spec, checkpoint)
    variants: list[DecoderVariant] = []
    for name, upsample in (("fp32", True), ("lowres_fp32", False)):
        fp32 = out_dir / f"decoder_{name}.onnx"
        log.info("writing %s", fp32)
        write_decoder(sam, fp32, upsample)
        int8 = out_dir / f"decoder_{name.replace('fp32', 'int8')}.onnx"
        quantize(fp32, int8)
        variants.append(DecoderVariant(name, fp32, upsample, "fp32"))
        variants.append(DecoderVariant(name.replace("fp32", "int8"), int8, upsample, "int8"))
    stage, prompt = out_dir / "image_stage_fp32.onnx", out_dir / "decoder_split_fp32.onnx"
    log.info("writing %s and %s", prompt, stage)
    write_split_decoder(sam, stage, prompt)
    stage8, prompt8 = out_dir / "image_stage_int8.onnx", out_dir / "decoder_split_int8.onnx"
    quantize(stage, stage8, per_channel=True)
    quantize(prompt, prompt8, per_channel=True)
    for path in (stage, prompt, stage8, prompt8):
        optimize_offline(path)
    variants.append(DecoderVariant("split_fp32", prompt, False, "fp32", stage, BROWSER_LEVEL))
    variants.append(DecoderVariant("split_int8", prompt8, False, "int8", stage8, BROWSER_LEVEL))
    encoder_path = None
    if image_encoder:
        encoder_path = out_dir / "image_encoder.onnx"
        log.info("writing %s", encoder_path)
        write_image_encoder(sam, encoder_path)

    manifest = build_manifest(
        spec,
        variants,
        encoder_path,
        build_version=BUILD_VERSION,
        opset=OPSET,
        versions={
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
    )
    tmp = out_dir / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, out_dir / "manifest.json")
    return OnnxBuild(out_dir, manifest, reused=False)


__all__ = ["BUILD_VERSION", "OnnxBuild", "build_onnx"]
