"""The built ONNX decoders against the PyTorch reference, on real photos."""

from __future__ import annotations

import numpy as np
import pytest

from inference.predict import predict

# (photo, positive/negative points (x, y), labels, box x0 y0 x1 y1) in original pixels.
PROMPTS = {
    "one click on the astronaut's helmet": ("astronaut", [[250, 150]], [1], None),
    "three clicks on the astronaut": (
        "astronaut", [[250, 150], [300, 400], [200, 300]], [1, 0, 1], None),
    "a box around the astronaut": ("astronaut", None, None, [100, 20, 420, 510]),
    "a click on the cat": ("chelsea", [[200, 200]], [1], None),
    "a box and a click on the coffee cup": ("coffee", [[300, 150]], [1], [100, 20, 500, 320]),
}  # fmt: skip


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def reference_single(emb, pts, lbls, box, mask_input, size) -> np.ndarray:
    """The mask SAM's standard ONNX decoder picks: token 0 with more than two points
    (counting the padding point or the two box corners), else the best candidate."""
    n = (0 if pts is None else len(pts)) + (2 if box is not None else 1)
    if n > 2:
        return predict(emb, pts, lbls, box, mask_input, multimask=False, image_size=size).masks[0]
    ref = predict(emb, pts, lbls, box, mask_input, multimask=True, image_size=size)
    return ref.masks[int(np.argmax(ref.scores))]


@pytest.mark.parametrize("case", list(PROMPTS))
def test_fp32_decoder_matches_the_reference(case, photo, decoder):
    name, pts, lbls, box = PROMPTS[case]
    pixels, emb = photo(name)
    size = pixels.shape[:2]
    out = decoder("fp32").predict(emb, pts, lbls, box, image_size=size)
    assert out.masks.shape == (1, *size)
    assert mask_iou(out.masks[0], reference_single(emb, pts, lbls, box, None, size)) >= 0.99


@pytest.mark.parametrize("variant", ["lowres_fp32", "split_fp32"])
@pytest.mark.parametrize("case", list(PROMPTS))
def test_low_res_fp32_decoders_give_all_candidates_of_the_reference(variant, case, photo, decoder):
    name, pts, lbls, box = PROMPTS[case]
    pixels, emb = photo(name)
    size = pixels.shape[:2]
    for multimask in (True, False):
        out = decoder(variant).predict(emb, pts, lbls, box, multimask=multimask, image_size=size)
        ref = predict(emb, pts, lbls, box, multimask=multimask, image_size=size)
        assert out.masks.shape == ref.masks.shape
        for got, want in zip(out.masks, ref.masks, strict=True):
            assert mask_iou(got, want) >= 0.99
        np.testing.assert_allclose(out.scores, ref.scores, atol=1e-3)


@pytest.mark.parametrize("variant", ["fp32", "lowres_fp32", "split_fp32"])
def test_refinement_with_the_previous_low_res_mask_matches_the_reference(variant, photo, decoder):
    pixels, emb = photo("astronaut")
    size = pixels.shape[:2]
    first = predict(emb, [[250, 150]], [1], multimask=True, image_size=size)
    previous = first.low_res_logits[int(np.argmax(first.scores))]
    pts, lbls = [[250, 150], [260, 300]], [1, 1]
    out = decoder(variant).predict(emb, pts, lbls, None, previous, multimask=False, image_size=size)
    want = predict(emb, pts, lbls, None, previous, multimask=False, image_size=size).masks[0]
    assert mask_iou(out.masks[0], want) >= 0.99
    # The previous mask changes the answer: it is really used.
    without = predict(emb, pts, lbls, multimask=False, image_size=size).masks[0]
    assert not np.array_equal(want, without)


@pytest.mark.parametrize("variant", ["int8", "lowres_int8", "split_int8"])
def test_int8_decoders_stay_close_to_the_reference(variant, photo, decoder):
    """int8 loses a little; its exact figures are in docs/benchmarks.md. Here we only
    guard against a broken quantization."""
    ious = []
    for name, pts, lbls, box in PROMPTS.values():
        pixels, emb = photo(name)
        size = pixels.shape[:2]
        out = decoder(variant).predict(emb, pts, lbls, box, multimask=False, image_size=size)
        if decoder(variant).upsampled:
            want = reference_single(emb, pts, lbls, box, None, size)
        else:
            want = predict(emb, pts, lbls, box, multimask=False, image_size=size).masks[0]
        ious.append(mask_iou(out.masks[0], want))
    assert np.mean(ious) >= 0.9, ious
