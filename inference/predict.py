"""The reference decoder: SAM's prompt encoder + mask decoder in PyTorch.

This is the oracle the ONNX decoder and the browser are checked against. It
follows SAM's own predictor: a padding point is added when there are points but
no box; masks are upscaled from 256×256 to 1024, cropped to the resized image and
resized to the original size with bilinear interpolation, then thresholded at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from inference.model import load_sam
from inference.modeling.sam import Sam
from inference.prompts import MASK_THRESHOLD
from inference.registry import DEFAULT_MODEL
from inference.transforms import IMAGE_SIZE, LOW_RES_MASK_SIZE, ResizeTransform


@dataclass(frozen=True)
class Prediction:
    masks: npt.NDArray[np.bool_]  # (K, H, W) in the original frame; K = 3 or 1
    scores: npt.NDArray[np.float32]  # (K,) predicted IoU of each mask
    low_res_logits: npt.NDArray[np.float32]  # (K, 256, 256), feed back as mask_input


def low_res_extent(transform: ResizeTransform) -> tuple[int, int]:
    """The rows and columns (from the top left) of the 256 × 256 low-res logits that
    :func:`upscale_masks` reads for an image of ``transform``: those of the resized
    image, and one more where there is one (the last pixels of the image interpolate
    between the image's last low-res pixel and the padding's first; a side of 4k + 1
    resized pixels does without it)."""
    rh, rw = transform.resized
    factor = IMAGE_SIZE // LOW_RES_MASK_SIZE
    size = LOW_RES_MASK_SIZE
    return min(size, -(-rh // factor) + 1), min(size, -(-rw // factor) + 1)


def upscale_masks(logits: torch.Tensor, transform: ResizeTransform) -> torch.Tensor:
    """Low-res logits (B, K, 256, 256) -> logits (B, K, H, W) in the original frame;
    the logits may also be cut to the :func:`low_res_extent` of the image.

    SAM's post-processing: bilinear to the model's 1024 × 1024 input, the padding cut
    off, bilinear to the original size. The first step interpolates only the low-res
    rows and columns the kept part reads (each output pixel reads the two nearest
    source pixels, at the same 1/4 scale), which gives the same values without the
    padding's share of the work.
    """
    rh, rw = transform.resized
    factor = IMAGE_SIZE // LOW_RES_MASK_SIZE
    need_h, need_w = low_res_extent(transform)
    x = F.interpolate(
        logits[..., :need_h, :need_w],
        scale_factor=float(factor),
        mode="bilinear",
        align_corners=False,
        recompute_scale_factor=False,
    )
    x = x[..., :rh, :rw]
    return F.interpolate(
        x, (transform.orig_height, transform.orig_width), mode="bilinear", align_corners=False
    )


def predict(
    embedding: npt.ArrayLike,
    points: npt.ArrayLike | None = None,
    labels: npt.ArrayLike | None = None,
    box: npt.ArrayLike | None = None,
    mask_input: npt.ArrayLike | None = None,
    multimask: bool = True,
    *,
    image_size: tuple[int, int],
    model: str | Sam = DEFAULT_MODEL,
) -> Prediction:
    """Masks for one image's prompts.

    embedding: (1, 256, 64, 64) or (256, 64, 64), from :func:`inference.encode.encode`.
    points: (N, 2) original-image pixels, x then y; labels: (N,) 1 positive, 0 negative.
    box: (4,) x0 y0 x1 y1 in original-image pixels.
    mask_input: (256, 256) or (1, 256, 256) low-res logits from an earlier prediction.
    image_size: (height, width) of the original image.
    """
    sam = load_sam(model) if isinstance(model, str) else model
    device = sam.device
    transform = ResizeTransform(*image_size)

    emb = torch.as_tensor(np.asarray(embedding, dtype=np.float32), device=device)
    emb = emb.reshape(1, 256, 64, 64)
    point_prompt = None
    if points is not None:
        if labels is None:
            raise ValueError("points need labels")
        coords = torch.as_tensor(transform.to_model(np.asarray(points, np.float32).reshape(-1, 2)))
        lbls = torch.as_tensor(np.asarray(labels).reshape(-1), dtype=torch.int64)
        if len(lbls) != len(coords):
            raise ValueError(f"{len(coords)} points but {len(lbls)} labels")
        point_prompt = (coords[None].to(device), lbls[None].to(device))
    box_t = None
    if box is not None:
        box_t = torch.as_tensor(transform.boxes_to_model(np.asarray(box, np.float32).reshape(4)))
        box_t = box_t[None].to(device)
    mask_t = None
    if mask_input is not None:
        mask_t = torch.as_tensor(np.asarray(mask_input, np.float32).reshape(1, 1, 256, 256))
        mask_t = mask_t.to(device)

    with torch.inference_mode():
        sparse, dense = sam.prompt_encoder(point_prompt, box_t, mask_t)
        low_res, scores = sam.mask_decoder(
            emb, sam.prompt_encoder.get_dense_pe(), sparse, dense, multimask
        )
        masks = upscale_masks(low_res, transform) > MASK_THRESHOLD
    return Prediction(
        masks=masks[0].cpu().numpy(),
        scores=scores[0].float().cpu().numpy(),
        low_res_logits=low_res[0].float().cpu().numpy(),
    )
