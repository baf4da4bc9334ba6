"""Image encoding: images -> SAM image embeddings (N, 256, 64, 64) float32.

Two backends: ``torch`` (cuda, mps or cpu; bf16 autocast on cuda by default) and
``onnx`` (onnxruntime with the image encoder built by ``python -m export_onnx``).

Command line: ``python -m inference.encode IMAGE... [--model NAME] --out DIR`` writes
one ``<image stem>.npy`` per image, float32 (1, 256, 64, 64).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal, cast

import numpy as np
import numpy.typing as npt
from PIL import Image

from inference.images import ImageRejected, load_image, to_rgb8
from inference.registry import DEFAULT_MODEL, onnx_dir
from inference.transforms import to_model_input

Backend = Literal["torch", "onnx"]
Precision = Literal["fp32", "bf16", "fp16"]
ImageSource = str | Path | bytes | Image.Image


def _as_rgb(image: ImageSource) -> Image.Image:
    if isinstance(image, Image.Image):
        return to_rgb8(image)
    return load_image(image)


def preprocess(images: Iterable[ImageSource]) -> npt.NDArray[np.float32]:
    """Images (paths, bytes or PIL) -> SAM's input batch (N, 3, 1024, 1024) float32."""
    return np.stack([to_model_input(_as_rgb(image)) for image in images])


def _batches(items: Sequence[ImageSource], size: int) -> Iterator[Sequence[ImageSource]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class TorchEncoder:
    """SAM's image encoder in PyTorch. On cuda, ``bf16`` autocast by default."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str | None = None,
        precision: Precision | None = None,
    ) -> None:
        import torch

        from inference.model import load_sam

        self._torch = torch
        self.sam = load_sam(model, device)
        self.device = self.sam.device
        if precision is None:
            precision = "bf16" if self.device.type == "cuda" else "fp32"
        self.precision: Precision = precision

    def __call__(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        torch = self._torch
        x = torch.from_numpy(batch).to(self.device)
        dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}
        with torch.inference_mode():
            if self.precision in dtypes:
                with torch.autocast(self.device.type, dtype=dtypes[self.precision]):
                    out = self.sam.image_encoder(x)
            else:
                out = self.sam.image_encoder(x)
        return out.float().cpu().numpy()


class OnnxEncoder:
    """SAM's image encoder as ONNX, run with onnxruntime (CPU or CUDA)."""

    def __init__(self, model: str = DEFAULT_MODEL, path: Path | None = None) -> None:
        import onnxruntime as ort

        if path is None:
            manifest_path = onnx_dir(model) / "manifest.json"
            if not manifest_path.exists():
                raise FileNotFoundError(
                    f"no ONNX build of {model} at {manifest_path}; "
                    f"run `python -m export_onnx --model {model}` first"
                )
            manifest = json.loads(manifest_path.read_text())
            path = manifest_path.parent / manifest["image_encoder"]["file"]
        providers = [
            p
            for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
            if p in ort.get_available_providers()
        ]
        self.session = ort.InferenceSession(str(path), providers=providers)
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        (out,) = self.session.run(None, {self.input_name: batch})
        return np.asarray(out, dtype=np.float32)


@lru_cache(maxsize=4)
def get_encoder(
    model: str = DEFAULT_MODEL,
    backend: Backend = "torch",
    device: str | None = None,
    precision: Precision | None = None,
) -> TorchEncoder | OnnxEncoder:
    """An encoder, built once per process and argument set."""
    if backend == "onnx":
        return OnnxEncoder(model)
    if backend == "torch":
        return TorchEncoder(model, device, precision)
    raise ValueError(f"unknown backend {backend!r}; use 'torch' or 'onnx'")


def encode(
    images: Sequence[ImageSource],
    model: str = DEFAULT_MODEL,
    *,
    backend: Backend | None = None,
    batch_size: int = 8,
    device: str | None = None,
    precision: Precision | None = None,
) -> npt.NDArray[np.float32]:
    """Embeddings of ``images``: (N, 256, 64, 64) float32, in batches of ``batch_size``.

    ``backend``, ``device`` and ``precision`` default to the environment variables
    ``SAMLABEL_ENCODER_BACKEND`` (torch), ``SAMLABEL_DEVICE`` (auto) and
    ``SAMLABEL_PRECISION`` (bf16 on cuda, fp32 elsewhere).
    """
    backend_name = backend or os.environ.get("SAMLABEL_ENCODER_BACKEND") or "torch"
    if backend_name not in ("torch", "onnx"):
        raise ValueError(f"SAMLABEL_ENCODER_BACKEND={backend_name!r}: use 'torch' or 'onnx'")
    precision_name = precision or os.environ.get("SAMLABEL_PRECISION") or None
    if precision_name not in (None, "fp32", "bf16", "fp16"):
        raise ValueError(f"SAMLABEL_PRECISION={precision_name!r}: use fp32, bf16 or fp16")
    device = device or os.environ.get("SAMLABEL_DEVICE") or None
    encoder = get_encoder(
        model, cast(Backend, backend_name), device, cast("Precision | None", precision_name)
    )
    outputs = [encoder(preprocess(batch)) for batch in _batches(images, batch_size)]
    if not outputs:
        return np.zeros((0, 256, 64, 64), dtype=np.float32)
    return np.concatenate(outputs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inference.encode",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--backend", choices=["torch", "onnx"], default=None)
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: auto)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", type=Path, required=True, help="folder for the .npy files")
    args = parser.parse_args(argv)

    stems = [p.stem for p in args.images]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        print(
            f"error: several images are named {', '.join(duplicates)}; "
            "their embeddings would overwrite each other",
            file=sys.stderr,
        )
        return 2
    readable: list[tuple[Path, Image.Image]] = []
    failed = 0
    for path in args.images:
        try:
            readable.append((path, load_image(path)))
        except ImageRejected as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    args.out.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(readable), args.batch_size):
        chunk = readable[start : start + args.batch_size]
        embeddings = encode(
            [img for _, img in chunk],
            args.model,
            backend=args.backend,
            batch_size=args.batch_size,
            device=args.device,
        )
        for (path, _), embedding in zip(chunk, embeddings, strict=True):
            out = args.out / f"{path.stem}.npy"
            np.save(out, embedding[None].astype(np.float32))
            print(out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
