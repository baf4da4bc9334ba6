"""Masks to polygons: traced along pixel edges, so they fill back to the same pixels."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as coco_mask

from webapp.exports.contours import mask_to_rings, mask_to_single_ring, ring_to_flat, trace_loops


def fill_with_pycocotools(rings: list[list[float]], height: int, width: int) -> np.ndarray:
    return coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(rings, height, width))) > 0


def test_random_masks_fill_back_exactly_with_pycocotools():
    rng = np.random.default_rng(7)
    for _ in range(50):
        mask = rng.random((23, 31)) < 0.5
        rings = [ring_to_flat(r) for r in mask_to_rings(mask)]
        assert np.array_equal(fill_with_pycocotools(rings, 23, 31), mask)
        single = ring_to_flat(mask_to_single_ring(mask))
        assert np.array_equal(fill_with_pycocotools([single], 23, 31), mask)


def test_a_hole_with_an_island_inside_it_keeps_both():
    mask = np.zeros((30, 30), dtype=bool)
    mask[2:28, 2:28] = True
    mask[8:22, 8:22] = False
    mask[12:18, 12:18] = True  # an island inside the hole
    rings = mask_to_rings(mask)
    assert len(rings) == 2  # the frame with its hole, and the island
    assert np.array_equal(fill_with_pycocotools([ring_to_flat(r) for r in rings], 30, 30), mask)
    single = mask_to_single_ring(mask)
    assert np.array_equal(fill_with_pycocotools([ring_to_flat(single)], 30, 30), mask)


def test_a_rectangle_is_four_corners_and_an_empty_mask_has_no_loops():
    mask = np.zeros((5, 6), dtype=bool)
    mask[1:3, 2:5] = True
    (loop,) = trace_loops(mask)
    assert sorted(map(tuple, loop.tolist())) == [(2, 1), (2, 3), (5, 1), (5, 3)]
    assert trace_loops(np.zeros((4, 4), dtype=bool)) == []
    assert mask_to_single_ring(np.zeros((4, 4), dtype=bool)) == []
