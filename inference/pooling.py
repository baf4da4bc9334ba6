"""What an image embedding says about the region under a mask: one 256-value vector.

SAM's image embedding (256, 64, 64) is a grid of features over the padded 1024×1024
model input (see :mod:`inference.transforms`): cell (row i, column j) covers model pixels
``[16 j, 16 j + 16) × [16 i, 16 i + 16)``. A mask in the original frame is carried onto
that grid the way the image was: scaled so that its long side is 1024, then padded at
the right and bottom. Each cell's weight is the fraction of its area the scaled mask
covers (an area average, so thin masks and small images keep their exact share);
cells in the padding weigh nothing. The pooled vector is the weighted mean of the
cells' features, L2-normalised, so that a dot product of two is their cosine.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from inference.transforms import EMBEDDING_SIZE, IMAGE_SIZE, ResizeTransform

FEATURE_DIM = 256  # channels of SAM's image embedding
CELL = IMAGE_SIZE // EMBEDDING_SIZE  # model pixels per embedding cell along each axis


def axis_coverage(length: int, resized: int) -> npt.NDArray[np.float32]:
    """(length, 64) float32: how much of each embedding cell's side (0 to 1) each
    original pixel covers along one axis, when ``length`` original pixels are scaled
    to ``resized`` model pixels."""
    scale = resized / length
    starts = np.arange(length, dtype=np.float64) * scale  # (length,) model pixels
    ends = starts + scale
    cell_starts = np.arange(EMBEDDING_SIZE, dtype=np.float64) * CELL  # (64,)
    overlap = np.minimum(ends[:, None], cell_starts + CELL) - np.maximum(
        starts[:, None], cell_starts
    )
    return (np.clip(overlap, 0.0, None) / CELL).astype(np.float32)


def mask_weights(mask: npt.ArrayLike, image_size: tuple[int, int]) -> npt.NDArray[np.float32]:
    """(64, 64) float32 in [0, 1]: the share of each embedding cell that ``mask``
    covers. ``mask``: (H, W) bool in the original frame, ``image_size`` = (H, W)."""
    height, width = image_size
    array = np.asarray(mask)
    if array.shape != (height, width):
        raise ValueError(f"mask shape {array.shape} is not the image size {(height, width)}")
    resized_h, resized_w = ResizeTransform(height, width).resized
    rows = axis_coverage(height, resized_h)  # (H, 64)
    columns = axis_coverage(width, resized_w)  # (W, 64)
    # Only the rows the mask touches: a small object in a large photo costs little.
    touched = np.flatnonzero(array.any(axis=1))
    if touched.size == 0:
        return np.zeros((EMBEDDING_SIZE, EMBEDDING_SIZE), dtype=np.float32)
    band = array[touched[0] : touched[-1] + 1].astype(np.float32)  # (h, W)
    per_row = band @ columns  # (h, 64): covered share of each column of cells, per row
    # Contiguous first: BLAS is far slower on the transposed view.
    band_rows = np.ascontiguousarray(rows[touched[0] : touched[-1] + 1].T)  # (64, h)
    weights: npt.NDArray[np.float32] = band_rows @ per_row
    return weights


def pool_under_mask(
    embedding: npt.ArrayLike, mask: npt.ArrayLike, image_size: tuple[int, int]
) -> npt.NDArray[np.float32]:
    """(256,) float32, unit length: the mean of ``embedding``'s features under ``mask``,
    each cell weighted by the share of it the mask covers (see the module's docstring).

    ``embedding``: (1, 256, 64, 64) or (256, 64, 64), any float dtype. ``mask``: (H, W)
    bool in the original frame; ``image_size`` = (H, W) of the original image. Raises
    ValueError for an empty mask or shapes that do not fit.
    """
    features = np.asarray(embedding)
    if features.ndim == 4 and features.shape[0] == 1:
        features = features[0]
    if features.shape != (FEATURE_DIM, EMBEDDING_SIZE, EMBEDDING_SIZE):
        raise ValueError(f"embedding shape {features.shape} is not (1,) 256, 64, 64")
    weights = mask_weights(mask, image_size)
    total = float(weights.sum())
    if total <= 0:
        raise ValueError("the mask is empty: nothing to pool")
    flat = features.reshape(FEATURE_DIM, -1).astype(np.float32, copy=False)
    pooled = flat @ (weights.reshape(-1) / np.float32(total))  # (256,)
    return normalised(pooled)


def normalised(vector: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """``vector`` scaled to unit length as float32 (a zero vector stays zero)."""
    out = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(out))
    return out / np.float32(norm) if norm > 0 else out
