"""The pure-Python run helpers against numpy, scipy and the project's codec
(``inference.rle``) on random masks: the same counts, areas, boxes, parts, holes and
overlaps, computed pixel by pixel there and run by run here."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from inference import rle as codec
from qualityrules import rle

EIGHT = np.ones((3, 3), dtype=bool)
FOUR = ndimage.generate_binary_structure(2, 1)


def random_mask(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Blobs of varied density: some masks are specks, some nearly full, some with holes."""
    density = rng.uniform(0.05, 0.95)
    mask = rng.random((height, width)) < density
    if rng.random() < 0.5:  # smoother shapes, with real parts and holes
        mask = ndimage.binary_opening(mask, iterations=1)
    return mask


def masks(count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        random_mask(rng, int(rng.integers(1, 40)), int(rng.integers(1, 40))) for _ in range(count)
    ]


@pytest.mark.parametrize("mask", masks(150, 1))
def test_counts_area_and_box_equal_the_codec(mask: np.ndarray) -> None:
    encoded = codec.encode(mask)

    height, width, counts = rle.parse(encoded)

    assert (height, width) == mask.shape
    assert counts == codec._parse(encoded)[2].tolist()
    assert rle.counts_to_string(counts) == encoded["counts"]
    assert rle.area(encoded) == int(mask.sum())
    assert list(rle.bbox(encoded)) == codec.bbox(encoded)
    assert rle.area({"size": encoded["size"], "counts": counts}) == int(mask.sum())


@pytest.mark.parametrize("mask", masks(150, 2))
def test_set_runs_rebuild_the_mask(mask: np.ndarray) -> None:
    encoded = codec.encode(mask)
    flat = np.zeros(mask.size, dtype=bool)
    for start, end in rle.set_runs(encoded):
        flat[start:end] = True

    assert np.array_equal(flat.reshape(mask.shape[1], mask.shape[0]).T, mask)
    rebuilt = rle.from_runs(*mask.shape, rle.set_runs(encoded))
    assert np.array_equal(codec.decode(rebuilt), mask)


@pytest.mark.parametrize("connectivity", [8, 4])
@pytest.mark.parametrize("mask", masks(120, 3))
def test_parts_equal_scipy_labels(mask: np.ndarray, connectivity: int) -> None:
    labels, count = ndimage.label(mask, structure=EIGHT if connectivity == 8 else FOUR)
    expected = sorted(int((labels == i).sum()) for i in range(1, count + 1))

    assert sorted(rle.component_areas(codec.encode(mask), connectivity)) == expected


@pytest.mark.parametrize("mask", masks(120, 4))
def test_holes_equal_the_unset_parts_that_miss_the_border(mask: np.ndarray) -> None:
    # An 8-connected mask's holes are its 4-connected background parts off the border.
    labels, count = ndimage.label(~mask, structure=FOUR)
    border = set(labels[0].tolist()) | set(labels[-1].tolist())
    border |= set(labels[:, 0].tolist()) | set(labels[:, -1].tolist())
    expected = sorted(int((labels == i).sum()) for i in range(1, count + 1) if i not in border)

    assert sorted(rle.hole_areas(codec.encode(mask))) == expected


@pytest.mark.parametrize("pair", list(zip(masks(100, 5), masks(100, 6), strict=True)))
def test_intersection_and_iou_equal_numpy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    b = np.resize(b, a.shape)  # one size for both
    inter, union = int((a & b).sum()), int((a | b).sum())

    assert rle.intersection_area(codec.encode(a), codec.encode(b)) == inter
    assert rle.iou(codec.encode(a), codec.encode(b)) == pytest.approx(
        inter / union if union else 0.0
    )


def test_a_ring_has_one_hole_and_a_diagonal_gap_does_not_open_it() -> None:
    ring = np.zeros((7, 7), dtype=bool)
    ring[1:6, 1:6] = True
    ring[2:5, 2:5] = False
    ring[1, 1] = False  # a corner cut: the hole still cannot leak out diagonally

    assert rle.hole_areas(codec.encode(ring)) == [9]
    assert rle.hole_areas(codec.encode(ring), connectivity=4) == []


def test_diagonal_pixels_are_one_part_with_eight_neighbours_and_two_with_four() -> None:
    mask = np.array([[1, 0], [0, 1]], dtype=bool)

    assert rle.component_areas(codec.encode(mask)) == [2]
    assert rle.component_areas(codec.encode(mask), connectivity=4) == [1, 1]


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"size": [2, 2], "counts": [1, 2]}, "cover 3 pixels"),
        ({"size": [2, 2], "counts": "\x7f"}, "alphabet"),
        ({"size": [0, 2], "counts": []}, "two positive integers"),
        ({"size": [2, 2], "counts": [5, -1]}, "negative"),
        ({"size": [2, 2], "counts": "1"}, "cover 1 pixels"),
        ({"size": [2, 2], "counts": "`"}, "middle of a run"),
    ],
)
def test_a_malformed_rle_is_refused_with_what_is_wrong(bad: dict, says: str) -> None:
    with pytest.raises(rle.InvalidRle, match=says):
        rle.area(bad)


def test_masks_of_different_sizes_do_not_compare() -> None:
    a = codec.encode(np.ones((2, 3), dtype=bool))
    b = codec.encode(np.ones((3, 2), dtype=bool))

    with pytest.raises(rle.InvalidRle, match="different sizes"):
        rle.iou(a, b)
