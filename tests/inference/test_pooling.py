"""Pooling an image embedding under a mask (inference.pooling), on synthetic embeddings
whose features say which region of the image they come from."""

from __future__ import annotations

import numpy as np
import pytest

from inference.pooling import mask_weights, pool_under_mask


def two_region_embedding(split_column: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A (1, 256, 64, 64) float16 embedding whose cells left of ``split_column`` all hold
    feature ``a`` and the others feature ``b`` (unit vectors, orthogonal)."""
    a = np.zeros(256, dtype=np.float32)
    a[3] = 1.0
    b = np.zeros(256, dtype=np.float32)
    b[200] = 1.0
    embedding = np.empty((256, 64, 64), dtype=np.float32)
    embedding[:, :, :split_column] = a[:, None, None]
    embedding[:, :, split_column:] = b[:, None, None]
    return embedding[None].astype(np.float16), a, b


def test_a_mask_over_one_region_returns_that_regions_feature() -> None:
    # A square 1024 x 1024 image maps one to one onto the model frame: cells 0-31 are
    # the left half of the image.
    embedding, a, b = two_region_embedding(32)
    mask = np.zeros((1024, 1024), dtype=bool)
    mask[100:900, 40:500] = True
    np.testing.assert_allclose(pool_under_mask(embedding, mask, (1024, 1024)), a, atol=1e-6)
    mask[:] = False
    mask[0:50, 600:1000] = True
    np.testing.assert_allclose(pool_under_mask(embedding, mask, (1024, 1024)), b, atol=1e-6)


def test_a_mask_over_both_regions_weighs_them_by_covered_area() -> None:
    embedding, a, b = two_region_embedding(32)
    mask = np.zeros((1024, 1024), dtype=bool)
    # 3 parts on the left half, 1 part on the right.
    mask[0:256, 512 - 384 : 512 + 128] = True
    pooled = pool_under_mask(embedding, mask, (1024, 1024))
    expected = 3 * a + b
    np.testing.assert_allclose(pooled, expected / np.linalg.norm(expected), atol=1e-3)
    assert pooled.dtype == np.float32 and pooled.shape == (256,)
    assert np.linalg.norm(pooled) == pytest.approx(1.0, abs=1e-6)


def test_the_mask_is_scaled_like_the_image_and_padding_weighs_nothing() -> None:
    # A 300 high x 600 wide image is resized to 512 x 1024: rows 32-63 of the grid are
    # padding. The right quarter of the image is cells 48-63.
    weights = mask_weights(np.ones((300, 600), dtype=bool), (300, 600))
    assert weights[:32].min() == pytest.approx(1.0)
    assert weights[32:].max() == 0.0
    embedding, a, b = two_region_embedding(48)
    mask = np.zeros((300, 600), dtype=bool)
    mask[10:290, 451:600] = True
    np.testing.assert_allclose(pool_under_mask(embedding, mask, (300, 600)), b, atol=1e-6)
    mask[:] = False
    mask[10:290, 0:449] = True
    np.testing.assert_allclose(pool_under_mask(embedding, mask, (300, 600)), a, atol=1e-6)


def test_a_one_pixel_mask_weighs_its_share_of_the_cells_it_falls_in() -> None:
    # A 32 x 32 image: each original pixel becomes 32 x 32 model pixels, 2 x 2 cells.
    mask = np.zeros((32, 32), dtype=bool)
    mask[5, 7] = True
    weights = mask_weights(mask, (32, 32))
    assert weights[10:12, 14:16].min() == pytest.approx(1.0)
    assert weights.sum() == pytest.approx(4.0)
    # A 4000-pixel-wide image: one pixel becomes 0.256 x 0.256 model pixels of one cell.
    big = np.zeros((1000, 4000), dtype=bool)
    big[0, 0] = True
    assert mask_weights(big, (1000, 4000)).sum() == pytest.approx(0.256**2 / 256, rel=1e-3)


def test_an_empty_mask_or_a_wrong_shape_is_refused() -> None:
    embedding, _, _ = two_region_embedding(32)
    with pytest.raises(ValueError, match="empty"):
        pool_under_mask(embedding, np.zeros((20, 30), dtype=bool), (20, 30))
    with pytest.raises(ValueError, match="image size"):
        pool_under_mask(embedding, np.ones((20, 30), dtype=bool), (30, 20))
    with pytest.raises(ValueError, match="embedding shape"):
        pool_under_mask(np.zeros((256, 32, 32)), np.ones((20, 30), dtype=bool), (20, 30))
