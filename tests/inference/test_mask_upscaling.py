"""SAM's post-processing of low-res logits to the original frame: interpolating only the
low-res rows and columns the kept part reads gives exactly what the whole 1024 × 1024
interpolation, cut and resized, gives."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from inference.predict import low_res_extent, upscale_masks
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


@pytest.mark.parametrize("size", [(321, 481), (481, 321), (400, 600), (7, 1500), (1023, 1025)])
def test_upscaling_reads_only_the_low_res_extent_and_all_of_it(size: tuple[int, int]) -> None:
    generator = torch.Generator().manual_seed(size[0] + size[1])
    logits = torch.randn(1, 3, 256, 256, generator=generator) * 8
    transform = ResizeTransform(*size)
    rows, cols = low_res_extent(transform)
    want = upscale_masks(logits, transform)

    outside = logits.clone()
    outside[..., rows:, :] = float("nan")
    outside[..., :, cols:] = float("nan")
    assert torch.equal(upscale_masks(outside, transform), want)
    assert torch.equal(upscale_masks(logits[..., :rows, :cols], transform), want)

    if 1 in (transform.resized[0] % 4, transform.resized[1] % 4):
        return  # a side of 4k + 1 pixels reads one low-res row or column fewer
    # The extent's last row and column are read: the image's last pixels interpolate
    # toward them.
    for last in (outside[..., rows - 1, :cols], outside[..., :rows, cols - 1]):
        last += 100.0
        assert not torch.equal(upscale_masks(outside, transform), want)
        last -= 100.0


def test_the_low_res_extent_of_a_square_image_is_everything() -> None:
    assert low_res_extent(ResizeTransform(500, 500)) == (256, 256)
    assert low_res_extent(ResizeTransform(321, 481)) == (172, 256)  # 683 × 1024 resized
