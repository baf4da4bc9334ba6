"""Property test of our COCO RLE against pycocotools, when hypothesis is installed."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco

from inference.rle import _counts_to_string
from webapp.annotations import rle

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

masks = st.tuples(st.integers(1, 40), st.integers(1, 40)).flatmap(
    lambda shape: arrays(np.bool_, shape)
)


@settings(max_examples=300, deadline=None)
@given(masks)
def test_any_mask_encodes_and_decodes_as_pycocotools(mask: np.ndarray) -> None:
    ours = rle.encode(mask)
    theirs = coco.encode(np.asfortranarray(mask.astype(np.uint8)))
    assert ours["counts"] == theirs["counts"].decode()
    np.testing.assert_array_equal(rle.decode(ours), mask)
    assert rle.area(ours) == int(coco.area(theirs))
    assert rle.bbox(ours) == coco.toBbox(theirs).tolist()


def _lengths(mask: np.ndarray) -> list[int]:
    """The mask's run lengths, column-major, from a run of 0s (COCO's uncompressed counts)."""
    pixels = mask.ravel(order="F")
    changes = np.flatnonzero(pixels[1:] != pixels[:-1]) + 1
    lengths = np.diff(np.concatenate(([0], changes, [pixels.size]))).tolist()
    return [0, *lengths] if pixels[0] else lengths


def _with_empty_runs(counts: list[int], where: list[int]) -> list[int]:
    """``counts`` with pairs of zero-length runs inserted before the given run indices
    (each pair keeps the runs' values alternating), and the last run split around one
    more zero-length run."""
    out = list(counts)
    for i in sorted({w % (len(out) + 1) for w in where}, reverse=True):
        out[i:i] = [0, 0]
    if out[-1] > 1:
        last = out.pop()
        out += [last - 1, 0, 1]
    return out


@settings(max_examples=300, deadline=None)
@given(masks, st.lists(st.integers(0, 1000), max_size=4), st.booleans())
def test_normalize_gives_what_encode_gives_for_the_mask_decoded(
    mask: np.ndarray, where: list[int], compressed: bool
) -> None:
    counts = _with_empty_runs(_lengths(mask), where)
    odd: dict[str, object] = {"size": list(mask.shape), "counts": counts}
    if compressed:  # the same odd runs in COCO's string form
        odd["counts"] = _counts_to_string(np.asarray(counts, dtype=np.int64))

    assert rle.normalize(odd) == rle.encode(mask)
    np.testing.assert_array_equal(rle.decode(odd), mask)
