"""The split decoder's PyTorch modules compute what SAM's decoder computes."""

from __future__ import annotations

import pytest
import torch

from export_onnx.decoder import SamDecoderOnnx
from export_onnx.split_decoder import ImageStage, PromptStage
from inference.model import load_sam


@pytest.fixture(scope="module")
def sam():
    return load_sam("mobile_sam", "cpu")


@pytest.mark.parametrize("has_mask", [0.0, 1.0])
@pytest.mark.parametrize("num_points", [2, 3, 7])
def test_image_stage_then_prompt_stage_equals_the_low_res_decoder(sam, has_mask, num_points):
    g = torch.Generator().manual_seed(num_points)
    embedding = torch.randn(1, 256, 64, 64, generator=g) * 0.3
    coords = torch.rand(1, num_points, 2, generator=g) * 1024
    labels = torch.randint(-1, 4, (1, num_points), generator=g).float()
    mask_input = torch.randn(1, 1, 256, 256, generator=g) * 5
    has = torch.tensor([has_mask])
    with torch.no_grad():
        want_iou, want = SamDecoderOnnx(sam, upsample=False)(
            embedding, coords, labels, mask_input, has
        )
        stage = ImageStage(sam)(embedding)
        exact_iou, exact = PromptStage(sam, gelu="none")(*stage, coords, labels, mask_input, has)
        got_iou, got = PromptStage(sam)(*stage, coords, labels, mask_input, has)
    assert got.shape == exact.shape == want.shape == (1, 4, 256, 256)
    # With SAM's GELU, the same arithmetic in another order: float rounding only, on
    # logits of size ~10-100.
    torch.testing.assert_close(exact, want, atol=2e-3, rtol=1e-4)
    torch.testing.assert_close(exact_iou, want_iou, atol=1e-5, rtol=1e-4)
    # The shipped tanh GELU moves logits by hundredths and almost no pixel's sign.
    torch.testing.assert_close(got, want, atol=0.1, rtol=1e-3)
    torch.testing.assert_close(got_iou, want_iou, atol=1e-5, rtol=1e-4)
    assert (got > 0).eq(want > 0).float().mean() > 0.999


def test_the_mask_input_reaches_the_prompt_stage(sam):
    """Guard against a correction term that is silently zero: with has_mask_input the
    answer changes, as in SAM."""
    g = torch.Generator().manual_seed(5)
    embedding = torch.randn(1, 256, 64, 64, generator=g) * 0.3
    coords = torch.tensor([[[400.0, 300.0], [0.0, 0.0]]])
    labels = torch.tensor([[1.0, -1.0]])
    mask_input = torch.randn(1, 1, 256, 256, generator=g) * 5
    with torch.no_grad():
        stage = ImageStage(sam)(embedding)
        prompt = PromptStage(sam)
        with_mask = prompt(*stage, coords, labels, mask_input, torch.tensor([1.0]))[1]
        without = prompt(*stage, coords, labels, mask_input, torch.tensor([0.0]))[1]
    assert (with_mask - without).abs().max() > 1.0
