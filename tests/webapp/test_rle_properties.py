"""Property test of our COCO RLE against pycocotools, when hypothesis is installed."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco

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
