"""``python -m benchmarks.model``: the model's speed and quality figures, with the machine.

Speed: images/s for encoding (batch 1 and 8; PyTorch and onnxruntime backends, and
bf16 on a GPU) and ms per decode (PyTorch reference and each built ONNX decoder).

Quality (``--grabcut DIR``, a folder with ``images/`` and ``masks/``): NoC@85,
NoC@90 and mean IoU after 1, 3 and 5 clicks with the standard click simulator
(:mod:`inference.clicks`), for PyTorch fp32, each ONNX decoder, and the embedding
format the server ships (float16). The embeddings come from the encoder ``--backend``
names (default ``auto``: the one the worker uses on this machine, see
:mod:`export_onnx.encoder`). A variant passes when it loses at most 0.05
NoC@90 against PyTorch fp32. ``--agreement`` adds each decoder's IoU with PyTorch,
decode by decode (:mod:`benchmarks.agreement`).

The ONNX parts need ``python -m export_onnx`` to have run.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from benchmarks.grabcut import grabcut_photos
from benchmarks.machine import cpu_name
from export_onnx.encoder import (
    BACKEND_SETTINGS,
    Backend,
    BackendSetting,
    choose_encoder,
    encode,
    get_encoder,
)
from inference.clicks import Click, iou_after, number_of_clicks, run_clicks
from inference.encode import Precision, preprocess
from inference.model import choose_device
from inference.predict import predict
from inference.registry import DEFAULT_MODEL

if TYPE_CHECKING:
    from export_onnx.runtime import OnnxDecoder

PASS_MARGIN = 0.05  # NoC@90 a shipped variant may lose against PyTorch fp32
REFERENCE = "PyTorch fp32"  # the decoder every variant is compared with


def machine() -> str:
    import onnxruntime

    cpu = cpu_name()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, {gpu}; torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}, Python {platform.python_version()}"
    )


def _timed(fn: Callable[[], object], repeat: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def bench_encoding(images: Sequence[Image.Image], model: str, repeat: int) -> list[str]:
    rows = []
    configs: list[tuple[Backend, Precision, str | None]] = [("torch", "fp32", "cpu")]
    if torch.cuda.is_available():
        configs = [("torch", "fp32", "cuda"), ("torch", "bf16", "cuda"), ("torch", "fp16", "cuda")]
    configs.append(("onnx", "fp32", None))
    for backend, precision, device in configs:
        try:
            encoder = get_encoder(model, backend, device, precision)
        except FileNotFoundError as exc:  # no ONNX build of the image encoder
            rows.append(f"| {backend} {precision} | skipped: {exc} | |")
            continue
        batches = [1, 8] + ([32] if device == "cuda" else [])
        for batch in batches:
            x = preprocess([images[i % len(images)] for i in range(batch)])

            def run(
                x: npt.NDArray[np.float32] = x,
                encoder: object = encoder,
                device: str | None = device,
            ) -> None:
                encoder(x)  # type: ignore[operator]
                if device == "cuda":
                    torch.cuda.synchronize()

            times = _timed(run, repeat, warmup=1)
            per_s = batch / statistics.median(times)
            rows.append(f"| {backend} {precision} {device or ''} | {batch} | {per_s:.2f} |")
    return rows


def camera_jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A 12-megapixel JPEG (quality 90): a photo enlarged, with sensor-like noise."""
    from skimage import data

    enlarged = Image.fromarray(data.astronaut()).resize((width, height), Image.Resampling.BICUBIC)
    noise = np.random.default_rng(0).integers(-8, 9, (height, width, 1))
    pixels = np.clip(np.asarray(enlarged, np.int16) + noise, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def bench_image_reading(repeat: int) -> list[str]:
    """ms to turn a camera JPEG into the model's input and into a thumbnail, decoding it
    in full against at the reduced scale (:func:`inference.images.load_image_reduced`)."""
    from inference.images import load_image, load_image_reduced
    from inference.transforms import to_model_input

    content = camera_jpeg()

    def full_input() -> object:
        return to_model_input(load_image(content))

    def reduced_input() -> object:
        picture = load_image_reduced(content)
        return to_model_input(picture.pixels, (picture.height, picture.width))

    def thumbnail(picture: Image.Image) -> None:
        small = picture.copy()
        small.thumbnail((256, 256))
        small.save(io.BytesIO(), "JPEG", quality=85)

    rows = []
    for label, full, reduced in (
        ("model input (3, 1024, 1024)", full_input, reduced_input),
        (
            "thumbnail, 256 px",
            lambda: thumbnail(load_image(content)),
            lambda: thumbnail(load_image_reduced(content, 256).pixels),
        ),
    ):
        ms = [1000 * statistics.median(_timed(fn, repeat, warmup=1)) for fn in (full, reduced)]
        rows.append(f"| {label} | {ms[0]:.0f} | {ms[1]:.0f} |")
    return rows


def bench_decoding(
    image: Image.Image, embedding: npt.NDArray[np.float32], model: str, repeat: int
) -> list[str]:
    from export_onnx.runtime import OnnxDecoder, prompt_arrays
    from inference.transforms import ResizeTransform

    """One click at the centre; masks upsampled in the graph to the photo's own size and
    to a 12-megapixel photo's (the low-res variants do not upsample: one figure)."""
    sizes = [(image.height, image.width), (3000, 4000)]
    point = [[image.width * 0.5, image.height * 0.5]]
    rows = []
    ms = []
    for size in sizes:
        ref = _timed(partial(predict, embedding, point, [1], image_size=size, model=model), repeat)
        ms.append(f"{1000 * statistics.median(ref):.1f}")
    rows.append(f"| PyTorch fp32 | {' | '.join(ms)} |")
    for variant in ("fp32", "int8", "lowres_fp32", "lowres_int8", "split_fp32", "split_int8"):
        for threads in (1, 2):
            dec = OnnxDecoder(variant, model, threads=threads)
            ms = []
            for size in sizes if dec.upsampled else sizes[:1]:
                coords, labels = prompt_arrays(ResizeTransform(*size), point, [1], None)
                t = _timed(partial(dec.run, embedding, coords, labels, None, size), repeat)
                ms.append(f"{1000 * statistics.median(t):.1f}")
            if not dec.upsampled:
                ms.append(f"{ms[0]} (no upsampling)")
            rows.append(f"| ONNX {variant}, {threads} thread(s) | {' | '.join(ms)} |")
            if dec.image_stage is not None:  # runs once per image, not per click
                stage = partial(dec.image_stage.run, None, {"image_embeddings": embedding})
                t = _timed(stage, repeat)
                ms = [f"{1000 * statistics.median(t):.1f}"] * 2
                rows.append(f"| its image stage, once per image | {' | '.join(ms)} |")
    return rows


Segment = Callable[[Sequence[Click], "npt.NDArray[np.float32] | None"],
                   tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32]]]  # fmt: skip


def segmenters(
    embedding: npt.NDArray[np.float32], size: tuple[int, int], model: str
) -> dict[str, Segment]:
    """Each variant under test, following one protocol: the first click takes the
    best of SAM's three candidates, later clicks take the single mask and feed the
    previous low-res logits back."""
    from export_onnx.runtime import OnnxDecoder

    def reference(emb: npt.NDArray[np.float32]) -> Segment:
        def seg(
            clicks: Sequence[Click], prev: npt.NDArray[np.float32] | None
        ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
            pts = [[c.x, c.y] for c in clicks]
            lbl = [int(c.positive) for c in clicks]
            out = predict(
                emb,
                pts,
                lbl,
                mask_input=prev,
                multimask=len(clicks) == 1,
                image_size=size,
                model=model,
            )
            best = int(np.argmax(out.scores))
            return out.masks[best], out.low_res_logits[best]

        return seg

    def onnx(variant: str, emb: npt.NDArray[np.float32]) -> Segment:
        if variant not in _decoders:  # one session per variant, not per photo
            _decoders[variant] = OnnxDecoder(variant, model)
        dec = _decoders[variant]

        def seg(
            clicks: Sequence[Click], prev: npt.NDArray[np.float32] | None
        ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
            pts = [[c.x, c.y] for c in clicks]
            lbl = [int(c.positive) for c in clicks]
            out = dec.predict(
                emb, pts, lbl, mask_input=prev, multimask=len(clicks) == 1, image_size=size
            )
            best = int(np.argmax(out.scores))
            return out.masks[best], out.low_res_logits[best]

        return seg

    fp16 = embedding.astype(np.float16).astype(np.float32)
    return {
        REFERENCE: reference(embedding),
        "ONNX fp32": onnx("fp32", embedding),
        "ONNX int8": onnx("int8", embedding),
        "ONNX low-res fp32": onnx("lowres_fp32", embedding),
        "ONNX low-res int8": onnx("lowres_int8", embedding),
        "ONNX split int8": onnx("split_int8", embedding),
        "fp16 embedding + ONNX low-res int8": onnx("lowres_int8", fp16),
        "fp16 embedding + ONNX low-res fp32": onnx("lowres_fp32", fp16),
        "shipped: fp16 embedding + ONNX split int8": onnx("split_int8", fp16),
    }


_decoders: dict[str, OnnxDecoder] = {}


def bench_quality(
    folder: Path,
    model: str,
    limit: int | None,
    backend: BackendSetting = "auto",
    only: Sequence[str] = (),
) -> list[str]:
    """Markdown rows: variant | NoC@85 | NoC@90 | mIoU@1, 3, 5 | verdict, on embeddings
    from the ``backend`` encoder; ``only``: these variants and the reference."""
    images = grabcut_photos(folder, limit)
    results: dict[str, list[list[float]]] = {}
    for n, (path, gt) in enumerate(images, 1):
        embedding = encode([path], model, backend=backend)
        size = (int(gt.shape[0]), int(gt.shape[1]))
        for name, seg in segmenters(embedding, size, model).items():
            if only and name not in only and name != REFERENCE:
                continue
            results.setdefault(name, []).append(run_clicks(seg, gt))
        print(f"  quality: {n}/{len(images)} {path.name}", file=sys.stderr, flush=True)
    rows = []
    base = statistics.mean(number_of_clicks(r, 0.90) for r in results[REFERENCE])
    for name, runs in results.items():
        noc85 = statistics.mean(number_of_clicks(r, 0.85) for r in runs)
        noc90 = statistics.mean(number_of_clicks(r, 0.90) for r in runs)
        m = [statistics.mean(iou_after(r, k) for r in runs) for k in (1, 3, 5)]
        verdict = "pass" if noc90 - base <= PASS_MARGIN else "FAIL"
        rows.append(
            f"| {name} | {noc85:.2f} | {noc90:.2f} | {m[0]:.3f} | {m[1]:.3f} | "
            f"{m[2]:.3f} | {verdict} |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--grabcut", type=Path, help="folder of the GrabCut benchmark set")
    parser.add_argument("--limit", type=int, help="only the first N GrabCut images")
    parser.add_argument(
        "--backend",
        choices=BACKEND_SETTINGS,
        default="auto",
        help="the encoder of the GrabCut embeddings (default: the one the worker uses here)",
    )
    parser.add_argument(
        "--only",
        default="",
        help="with --grabcut, only these variants (comma-separated) beside the reference",
    )
    parser.add_argument(
        "--agreement",
        action="store_true",
        help="with --grabcut, also each decoder's agreement with PyTorch, decode by decode",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per encoding figure")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument(
        "--skip-encoding", action="store_true", help="of the speed figures, decoding only"
    )
    args = parser.parse_args(argv)

    print(f"Machine: {machine()}\nModel: {args.model}\n")
    from skimage import data

    photos = [Image.fromarray(getattr(data, n)()) for n in ("astronaut", "coffee", "chelsea")]
    if not args.skip_speed:
        print("| 4000×3000 JPEG to | ms, full decode | ms, reduced decode |\n|---|---|---|")
        print("\n".join(bench_image_reading(args.repeat)) + "\n")
        if not args.skip_encoding:
            print("| encoder | batch | images/s |\n|---|---|---|")
            print("\n".join(bench_encoding(photos, args.model, args.repeat)))
        embedding = encode([photos[0]], args.model, backend="torch")
        print("\n| decoder, one click | ms per decode, 512×512 | ms, 3000×4000 |\n|---|---|---|")
        print("\n".join(bench_decoding(photos[0], embedding, args.model, repeat=30)))
    if args.grabcut:
        choice = choose_encoder(str(choose_device(None)), args.backend)
        print(
            f"\nGrabCut embeddings: {choice.backend} {choice.precision or 'fp32'} {choice.device}"
        )
        print("\n| variant | NoC@85 | NoC@90 | mIoU@1 | mIoU@3 | mIoU@5 | ≤ 0.05 NoC@90 loss |")
        print("|---|---|---|---|---|---|---|")
        only = [name.strip() for name in args.only.split(",") if name.strip()]
        print("\n".join(bench_quality(args.grabcut, args.model, args.limit, args.backend, only)))
        if args.agreement:
            from benchmarks.agreement import agreement_rows

            print(
                "\n| decoder | first click: mean IoU, share ≥ 0.99, 5th percentile "
                "| later clicks | flips |\n|---|---|---|---|"
            )
            print("\n".join(agreement_rows(args.grabcut, args.model, args.limit)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
