"""SAM's image encoder run with onnxruntime, and the encoder to use on a device.

Backends: ``onnx`` (the image encoder of the ONNX build, ``python -m export_onnx``, run
with onnxruntime) and ``torch`` (:class:`inference.encode.TorchEncoder`). ``auto``, the
default, picks the faster for the device, as measured in docs/benchmarks.md:
onnxruntime on a CPU (about twice PyTorch's speed there: its graph folds the batch norms
into the convolutions), PyTorch in bf16 on cuda, PyTorch on mps.

Command line: ``python -m export_onnx.encoder IMAGE... [--backend auto|torch|onnx]
--out DIR``, like ``python -m inference.encode``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, cast

import numpy as np
import numpy.typing as npt

from inference.encode import (
    Encoder,
    ImageSource,
    Precision,
    command_parser,
    device_setting,
    encode_with,
    precision_setting,
    write_embeddings,
)
from inference.encode import get_encoder as get_torch_encoder
from inference.registry import DEFAULT_MODEL, get_model, onnx_dir

log = logging.getLogger(__name__)

Backend = Literal["torch", "onnx"]
BackendSetting = Literal["auto", "torch", "onnx"]
BACKEND_SETTINGS: tuple[BackendSetting, ...] = ("auto", "torch", "onnx")


class OnnxEncoderMissing(FileNotFoundError):
    """The model's ONNX build has no image encoder (or there is no build)."""


def onnx_encoder_path(model: str = DEFAULT_MODEL) -> Path:
    """The image encoder file of ``model``'s ONNX build; :class:`OnnxEncoderMissing` if
    the build or its encoder is not there, or was built from another checkpoint."""
    manifest_path = onnx_dir(model) / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    entry = manifest.get("image_encoder")
    fix = f"run `python -m export_onnx --model {model}` first"
    if not entry or not (manifest_path.parent / entry["file"]).is_file():
        raise OnnxEncoderMissing(
            f"no ONNX image encoder of {model} in {manifest_path.parent}; {fix}"
        )
    if manifest.get("checkpoint_sha256") != get_model(model).sha256:
        raise OnnxEncoderMissing(
            f"the ONNX image encoder in {manifest_path.parent} was built from another "
            f"checkpoint of {model}; {fix}"
        )
    return manifest_path.parent / entry["file"]


class OnnxEncoder:
    """SAM's image encoder from the ONNX build, run with onnxruntime: (N, 3, 1024, 1024)
    float32 -> (N, 256, 64, 64) float32. On cuda when asked and onnxruntime has it."""

    def __init__(
        self, model: str = DEFAULT_MODEL, path: Path | None = None, device: str = "cpu"
    ) -> None:
        import onnxruntime as ort

        path = path or onnx_encoder_path(model)
        wanted = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            wanted.insert(0, "CUDAExecutionProvider")
        providers = [p for p in wanted if p in ort.get_available_providers()]
        self.session = ort.InferenceSession(str(path), providers=providers)
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        (out,) = self.session.run(None, {self.input_name: batch})
        return np.asarray(out, dtype=np.float32)


@dataclass(frozen=True)
class EncoderChoice:
    """Which encoder runs on which device: ``precision`` is the PyTorch backend's
    (None for onnxruntime, which runs the build's float32 graph)."""

    backend: Backend
    device: str
    precision: Precision | None


def backend_setting(backend: str | None = None) -> BackendSetting:
    """``backend``, else ``SAMLABEL_ENCODER_BACKEND``, else ``auto``; a bad value raises
    a ValueError naming the variable."""
    name = backend or os.environ.get("SAMLABEL_ENCODER_BACKEND") or "auto"
    if name not in BACKEND_SETTINGS:
        raise ValueError(f"SAMLABEL_ENCODER_BACKEND={name!r}: use 'auto', 'torch' or 'onnx'")
    return cast(BackendSetting, name)


def choose_encoder(
    device: str, backend: BackendSetting = "auto", precision: Precision | None = None
) -> EncoderChoice:
    """The encoder for ``device`` ("cpu", "cuda", "cuda:1", "mps"): with ``auto``,
    onnxruntime on a CPU and PyTorch elsewhere, in bf16 on cuda unless ``precision``
    says otherwise; ``torch`` or ``onnx`` force the backend."""
    if backend == "auto":
        backend = "onnx" if device == "cpu" else "torch"
    if backend == "onnx":
        return EncoderChoice("onnx", device, None)
    if precision is None and device.startswith("cuda"):
        precision = "bf16"
    return EncoderChoice("torch", device, precision or "fp32")


def _resolve_device(device: str | None) -> str:
    from inference.model import choose_device

    return str(choose_device(device))


def _describe(choice: EncoderChoice) -> str:
    backend = "onnxruntime" if choice.backend == "onnx" else "PyTorch"
    return f"{backend} {choice.precision or 'fp32'} on {choice.device}"


@lru_cache(maxsize=4)
def _onnx_encoder(path: Path, device: str, version: tuple[int, int]) -> OnnxEncoder:
    """One onnxruntime session per file and ``version`` (its size and modification time,
    so that a rebuilt file gets a new session)."""
    log.info("encoding with %s (%s)", _describe(EncoderChoice("onnx", device, None)), path)
    return OnnxEncoder(path=path, device=device)


@lru_cache(maxsize=4)
def _torch_encoder(model: str, device: str, precision: Precision | None) -> Encoder:
    log.info("encoding %s with %s", model, _describe(EncoderChoice("torch", device, precision)))
    return get_torch_encoder(model, device, precision)


_reported_missing: set[str] = set()  # models whose missing ONNX encoder was logged


def get_encoder(
    model: str = DEFAULT_MODEL,
    backend: BackendSetting = "auto",
    device: str | None = None,
    precision: Precision | None = None,
) -> Encoder:
    """The encoder :func:`choose_encoder` picks; each is built once per process.

    With ``auto``, a missing ONNX image encoder falls back to PyTorch, with a warning the
    first time (a slower encoder rather than none), until the build appears; with
    ``onnx`` it raises :class:`OnnxEncoderMissing`. Costs a read of the small manifest
    per call, so a worker picks up a build made after it started.
    """
    choice = choose_encoder(_resolve_device(device), backend, precision)
    if choice.backend == "onnx":
        try:
            path = onnx_encoder_path(model)
        except OnnxEncoderMissing as exc:
            if backend == "onnx":
                raise
            if model not in _reported_missing:
                _reported_missing.add(model)
                log.warning("%s; encoding with PyTorch, about half as fast on a CPU", exc)
            choice = EncoderChoice("torch", choice.device, "fp32")
        else:
            stat = path.stat()
            return _onnx_encoder(path, choice.device, (stat.st_size, stat.st_mtime_ns))
    return _torch_encoder(model, choice.device, choice.precision)


def forget_encoders() -> None:
    """Drop the encoders built so far (tests, or to free memory)."""
    _onnx_encoder.cache_clear()
    _torch_encoder.cache_clear()
    _reported_missing.clear()


def encode(
    images: Sequence[ImageSource],
    model: str = DEFAULT_MODEL,
    *,
    backend: BackendSetting | None = None,
    batch_size: int = 8,
    device: str | None = None,
    precision: Precision | None = None,
) -> npt.NDArray[np.float32]:
    """Embeddings of ``images`` with the encoder for the device: (N, 256, 64, 64)
    float32, in batches of ``batch_size``.

    ``backend``, ``device`` and ``precision`` default to the environment variables
    ``SAMLABEL_ENCODER_BACKEND`` (auto), ``SAMLABEL_DEVICE`` (the first of cuda, mps,
    cpu) and ``SAMLABEL_PRECISION`` (bf16 on cuda, fp32 elsewhere; PyTorch only).
    """
    encoder = get_encoder(
        model, backend_setting(backend), device_setting(device), precision_setting(precision)
    )
    return encode_with(encoder, images, batch_size)


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("python -m export_onnx.encoder", __doc__)
    parser.add_argument("--backend", choices=BACKEND_SETTINGS, default=None)
    args = parser.parse_args(argv)

    def encode_images(images: Sequence[ImageSource], batch_size: int) -> npt.NDArray[np.float32]:
        return encode(
            images, args.model, backend=args.backend, batch_size=batch_size, device=args.device
        )

    return write_embeddings(args.images, args.out, encode_images, args.batch_size)


if __name__ == "__main__":
    sys.exit(main())
