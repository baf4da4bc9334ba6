"""The decoder graph the browser runs: prompt encoder + mask decoder, SAM's interface.

Inputs (all float32; coordinates in the *model* frame, see ``inference.transforms``):
- ``image_embeddings`` (1, 256, 64, 64)
- ``point_coords`` (1, N, 2) x then y, any N >= 1
- ``point_labels`` (1, N): 1 positive, 0 negative, 2/3 box corners, -1 padding.
  Without a box, the caller appends a padding point (0, 0) with label -1, as SAM does.
- ``mask_input`` (1, 1, 256, 256) low-res logits of an earlier decode, or zeros
- ``has_mask_input`` (1,) 1 or 0
- ``orig_im_size`` (2,) original height, width (upsampled variant only)

Upsampled variant (SAM's standard ONNX decoder) outputs ``masks`` (1, 1, H, W) logits in
the original frame, ``iou_predictions`` (1, 1) and ``low_res_masks`` (1, 1, 256, 256),
picking one mask with SAM's rule (see :func:`select_mask`).

Low-res variant outputs ``iou_predictions`` (1, 4) and ``low_res_masks`` (1, 4, 256, 256)
for all four mask tokens: the caller picks one and upsamples it itself, which is
cheaper than upsampling inside the graph and lets it offer SAM's three candidates.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inference.modeling.sam import Sam
from inference.transforms import IMAGE_SIZE


def select_mask(
    masks: torch.Tensor, iou: torch.Tensor, num_points: int | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """SAM's rule for one mask out of four: with more than two prompt points (counting
    padding and box corners) take the single-mask token 0; otherwise the best of the
    three multimask candidates by predicted IoU."""
    weight = torch.tensor([[1000.0, 0.0, 0.0, 0.0]], device=iou.device)
    score = iou + (num_points - 2.5) * weight
    best = torch.argmax(score, dim=1)
    rows = torch.arange(masks.shape[0], device=masks.device)
    return masks[rows, best].unsqueeze(1), iou[rows, best].unsqueeze(1)


class SamDecoderOnnx(nn.Module):
    """Wraps a :class:`Sam` for the ONNX build; see the module docstring for the interface."""

    def __init__(self, sam: Sam, upsample: bool = True) -> None:
        super().__init__()
        self.prompt_encoder = sam.prompt_encoder
        self.mask_decoder = sam.mask_decoder
        self.upsample = upsample

    def _decode(
        self,
        image_embeddings: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor,
        has_mask_input: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        sparse = self.prompt_encoder.embed_labelled_points(point_coords, point_labels)
        dense = self.prompt_encoder.embed_mask(mask_input, has_mask_input)
        # The grid's positional encoding is computed in the graph rather than stored:
        # it saves 4 MB of download, and onnxruntime folds it to a constant at load.
        image_pe = self.prompt_encoder.get_dense_pe()
        return self.mask_decoder.predict_masks(image_embeddings, image_pe, sparse, dense)

    def _postprocess(self, masks: torch.Tensor, orig_im_size: torch.Tensor) -> torch.Tensor:
        masks = F.interpolate(masks, (IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)
        scale = IMAGE_SIZE / torch.max(orig_im_size)
        resized = (orig_im_size * scale + 0.5).to(torch.int64)
        masks = masks[..., : resized[0], : resized[1]]
        size = orig_im_size.to(torch.int64)
        # Tensor sizes keep the output size dynamic in the traced graph.
        return F.interpolate(
            masks,
            size=(size[0], size[1]),  # type: ignore[arg-type]
            mode="bilinear",
            align_corners=False,
        )

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not self.upsample:
            return self._decode(*inputs[:5])[::-1]
        image_embeddings, point_coords, point_labels, mask_input, has_mask_input, orig = inputs
        masks, iou = self._decode(
            image_embeddings, point_coords, point_labels, mask_input, has_mask_input
        )
        masks, iou = select_mask(masks, iou, point_coords.shape[1])
        return self._postprocess(masks, orig), iou, masks


DECODER_INPUTS = ["image_embeddings", "point_coords", "point_labels", "mask_input",
                  "has_mask_input", "orig_im_size"]  # fmt: skip
UPSAMPLED_OUTPUTS = ["masks", "iou_predictions", "low_res_masks"]
LOW_RES_OUTPUTS = ["iou_predictions", "low_res_masks"]


def example_inputs(num_points: int = 3, with_size: bool = True) -> tuple[torch.Tensor, ...]:
    """Dummy inputs that trace every path of the graph."""
    g = torch.Generator().manual_seed(0)
    inputs = [
        torch.randn(1, 256, 64, 64, generator=g),
        torch.randint(0, IMAGE_SIZE, (1, num_points, 2), generator=g).float(),
        torch.randint(0, 4, (1, num_points), generator=g).float(),
        torch.randn(1, 1, 256, 256, generator=g),
        torch.tensor([1.0]),
    ]
    if with_size:
        inputs.append(torch.tensor([1500.0, 2250.0]))
    return tuple(inputs)
