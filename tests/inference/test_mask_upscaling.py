"""SAM's post-processing of low-res logits to the original frame: interpolating only the
low-res rows and columns the kept part reads gives exactly what the whole 1024 × 1024
interpolation, cut and resized, gives."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from inference.predict import upscale_masks
from inference.transforms import IMAGE_SIZE, ResizeTransform


def sams_upscaling(logits: torch.Tensor, transform: ResizeTransform) -> torch.Tensor:
    """SAM's own three steps, written out."""
    rh, rw = transform.resized
    x = F.interpolate(logits, (IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)
    x = x[..., :rh, :rw]
    size = (transform.orig_height, transform.orig_width)
    return F.interpolate(x, size, mode="bilinear", align_corners=False)


@pytest.mark.parametrize(
    "size",
    [(321, 481), (481, 321), (400, 600), (500, 500), (1, 1), (7, 1500), (1023, 1025), (3000, 4000)],
)
def test_upscaling_gives_sams_values_bit_for_bit(size: tuple[int, int]) -> None:
    generator = torch.Generator().manual_seed(size[0] * 7 + size[1])
    logits = torch.randn(2, 3, 256, 256, generator=generator) * 8
    transform = ResizeTransform(*size)
    result = upscale_masks(logits, transform)
    assert result.shape == (2, 3, *size)
    assert torch.equal(result, sams_upscaling(logits, transform))
