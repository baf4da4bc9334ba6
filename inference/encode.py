"""Image encoding with PyTorch: images -> SAM image embeddings (N, 256, 64, 64) float32.

The encoder runs on cuda, mps or cpu, with bf16 autocast on cuda by default. Files are
decoded only as far as the model needs (:func:`inference.images.load_image_reduced`).
``export_onnx.encoder`` adds the onnxruntime encoder and picks the faster of the two
for the device.

Command line: ``python -m inference.encode IMAGE... [--model NAME] --out DIR`` writes
one ``<image stem>.npy`` per image, float32 (1, 256, 64, 64).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol, cast

import numpy as np
import numpy.typing as npt
from PIL import Image

from inference.images import DecodedImage, ImageRejected, load_image_reduced, to_rgb8
from inference.registry import DEFAULT_MODEL
from inference.transforms import to_model_input

Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "bf16", "fp16")
ImageSource = str | Path | bytes | Image.Image | DecodedImage


class Encoder(Protocol):
    """An image encoder: SAM's input batch (N, 3, 1024, 1024) float32 -> embeddings
    (N, 256, 64, 64) float32."""

    def __call__(self, batch: npt.NDArray[np.float32], /) -> npt.NDArray[np.float32]: ...


def model_input(image: ImageSource) -> npt.NDArray[np.float32]:
    """One image (a path, bytes, a Pillow image or a reduced decode) -> SAM's input
    (3, 1024, 1024) float32. Files are decoded at the smallest size that keeps 1024
    pixels on the long side."""
    if isinstance(image, Image.Image):
        return to_model_input(to_rgb8(image))
    if not isinstance(image, DecodedImage):
        image = load_image_reduced(image)
    return to_model_input(image.pixels, (image.height, image.width))


def preprocess(images: Iterable[ImageSource]) -> npt.NDArray[np.float32]:
    """Images -> SAM's input batch (N, 3, 1024, 1024) float32."""
    return np.stack([model_input(image) for image in images])


def _batches(items: Sequence[ImageSource], size: int) -> Iterator[Sequence[ImageSource]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def encode_with(
    encoder: Encoder, images: Sequence[ImageSource], batch_size: int = 8
) -> npt.NDArray[np.float32]:
    """Embeddings of ``images`` by ``encoder``: (N, 256, 64, 64) float32, in batches."""
    outputs = [encoder(preprocess(batch)) for batch in _batches(images, batch_size)]
    if not outputs:
        return np.zeros((0, 256, 64, 64), dtype=np.float32)
    return np.concatenate(outputs)


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


def device_setting(device: str | None = None) -> str | None:
    """``device``, else ``SAMLABEL_DEVICE``; None means the first of cuda, mps, cpu."""
    return device or os.environ.get("SAMLABEL_DEVICE") or None


def precision_setting(precision: str | None = None) -> Precision | None:
    """``precision``, else ``SAMLABEL_PRECISION``; None means bf16 on cuda, else fp32."""
    name = precision or os.environ.get("SAMLABEL_PRECISION") or None
    if name is not None and name not in PRECISIONS:
        raise ValueError(f"SAMLABEL_PRECISION={name!r}: use fp32, bf16 or fp16")
    return cast("Precision | None", name)


@lru_cache(maxsize=4)
def get_encoder(
    model: str = DEFAULT_MODEL, device: str | None = None, precision: Precision | None = None
) -> TorchEncoder:
    """A PyTorch encoder, built once per process and argument set."""
    return TorchEncoder(model, device, precision)


def encode(
    images: Sequence[ImageSource],
    model: str = DEFAULT_MODEL,
    *,
    batch_size: int = 8,
    device: str | None = None,
    precision: Precision | None = None,
) -> npt.NDArray[np.float32]:
    """Embeddings of ``images`` with PyTorch: (N, 256, 64, 64) float32, in batches of
    ``batch_size``.

    ``device`` and ``precision`` default to the environment variables
    ``SAMLABEL_DEVICE`` (auto) and ``SAMLABEL_PRECISION`` (bf16 on cuda, fp32 elsewhere).
    """
    encoder = get_encoder(model, device_setting(device), precision_setting(precision))
    return encode_with(encoder, images, batch_size)


EncodeImages = Callable[[Sequence[ImageSource], int], npt.NDArray[np.float32]]


def command_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """The arguments every encoding command takes (images, model, device, batch, out)."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: auto)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", type=Path, required=True, help="folder for the .npy files")
    return parser


def write_embeddings(
    paths: Sequence[Path], out: Path, encode_images: EncodeImages, batch_size: int
) -> int:
    """Encode the image files ``paths`` with ``encode_images(images, batch_size)`` into
    ``out/<stem>.npy``, float32 (1, 256, 64, 64), printing each path written. Returns the
    command's exit status: 2 when two files share a stem, 1 when a file was unreadable."""
    stems = [p.stem for p in paths]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        print(
            f"error: several images are named {', '.join(duplicates)}; "
            "their embeddings would overwrite each other",
            file=sys.stderr,
        )
        return 2
    readable: list[tuple[Path, DecodedImage]] = []
    failed = 0
    for path in paths:
        try:
            readable.append((path, load_image_reduced(path)))
        except ImageRejected as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    out.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(readable), batch_size):
        chunk = readable[start : start + batch_size]
        embeddings = encode_images([img for _, img in chunk], batch_size)
        for (path, _), embedding in zip(chunk, embeddings, strict=True):
            target = out / f"{path.stem}.npy"
            np.save(target, embedding[None].astype(np.float32))
            print(target)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = command_parser("python -m inference.encode", __doc__).parse_args(argv)

    def encode_images(images: Sequence[ImageSource], batch_size: int) -> npt.NDArray[np.float32]:
        return encode(images, args.model, batch_size=batch_size, device=args.device)

    return write_embeddings(args.images, args.out, encode_images, args.batch_size)


if __name__ == "__main__":
    sys.exit(main())
