"""Our COCO RLE against pycocotools, the reference implementation (tests only)."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco

from webapp.annotations import rle


def coco_encode(mask: np.ndarray) -> dict:
    return coco.encode(np.asfortranarray(mask.astype(np.uint8)))


def assert_matches_coco(mask: np.ndarray) -> None:
    ours = rle.encode(mask)
    theirs = coco_encode(mask)
    assert ours == {"size": list(theirs["size"]), "counts": theirs["counts"].decode()}
    decoded = rle.decode({"size": list(theirs["size"]), "counts": theirs["counts"].decode()})
    assert decoded.dtype == bool
    assert decoded.shape == mask.shape
    np.testing.assert_array_equal(decoded, mask.astype(bool))
    assert rle.area(ours) == int(coco.area(theirs))
    assert rle.bbox(ours) == coco.toBbox(theirs).tolist()


def blob(height: int, width: int, seed: int) -> np.ndarray:
    """An ellipse with a hole, like an object's mask."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:height, :width]
    cy, cx = rng.uniform(0, height), rng.uniform(0, width)
    ry, rx = rng.uniform(1, height), rng.uniform(1, width)
    r = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2
    return (r < 1) & (r > 0.1)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("density", [0.02, 0.5, 0.97])
def test_random_masks_encode_and_decode_as_pycocotools_does(seed: int, density: float) -> None:
    rng = np.random.default_rng(seed)
    height, width = rng.integers(1, 60, size=2)
    assert_matches_coco(rng.random((height, width)) < density)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (7, 13), (480, 640)])
def test_empty_and_full_masks_match_pycocotools(shape: tuple[int, int]) -> None:
    assert_matches_coco(np.zeros(shape, dtype=bool))
    assert_matches_coco(np.ones(shape, dtype=bool))


@pytest.mark.parametrize(("y", "x"), [(0, 0), (0, 12), (9, 0), (9, 12), (4, 5)])
def test_a_single_pixel_matches_pycocotools(y: int, x: int) -> None:
    mask = np.zeros((10, 13), dtype=bool)
    mask[y, x] = True
    assert_matches_coco(mask)
    assert rle.bbox(rle.encode(mask)) == [x, y, 1, 1]
    assert rle.area(rle.encode(mask)) == 1


@pytest.mark.parametrize("seed", range(4))
def test_blobs_on_non_square_images_match_pycocotools(seed: int) -> None:
    assert_matches_coco(blob(300, 170, seed))
    assert_matches_coco(blob(170, 300, seed))


def test_a_large_mask_matches_pycocotools() -> None:
    rng = np.random.default_rng(0)
    mask = blob(2000, 3000, seed=1) ^ (rng.random((2000, 3000)) < 0.01)
    assert_matches_coco(mask)


def test_uncompressed_list_counts_decode_like_the_string() -> None:
    mask = blob(40, 30, seed=3)
    fortran = mask.ravel(order="F")
    changes = np.flatnonzero(fortran[1:] != fortran[:-1]) + 1
    runs = np.diff(np.concatenate(([0], changes, [fortran.size]))).tolist()
    if fortran[0]:
        runs = [0, *runs]
    as_list = {"size": [40, 30], "counts": runs}
    np.testing.assert_array_equal(rle.decode(as_list), mask)
    assert rle.area(as_list) == int(mask.sum())
    assert rle.bbox(as_list) == rle.bbox(rle.encode(mask))


def test_bytes_counts_as_pycocotools_returns_them_decode() -> None:
    mask = blob(20, 25, seed=4)
    np.testing.assert_array_equal(rle.decode(coco_encode(mask)), mask)


def test_polygon_fills_its_inside_and_a_ring_inside_cuts_a_hole() -> None:
    outer = [10, 10, 50, 10, 50, 40, 10, 40]
    inner = [20, 20, 40, 20, 40, 30, 20, 30]
    solid = rle.polygon_to_mask([outer], 50, 60)
    holed = rle.polygon_to_mask([outer, inner], 50, 60)

    assert solid.shape == (50, 60)
    assert solid[25, 30] and solid[10, 10] and solid[40, 50]
    assert not solid[5, 5] and not solid[45, 55]
    assert not holed[25, 30]
    assert holed[15, 15]
    assert rle.bbox(rle.encode(holed)) == [10, 10, 41, 31]


# pycocotools 2.0 predates NumPy 2's copy keyword; the warning is about it, not us.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_polygon_area_is_close_to_pycocotools_rasterisation() -> None:
    ring = [5.5, 3.0, 70.0, 12.0, 55.0, 60.0, 10.0, 44.0]
    ours = rle.polygon_to_mask([ring], 80, 90)
    theirs = coco.decode(coco.frPyObjects([ring], 80, 90)[0]).astype(bool)
    iou = (ours & theirs).sum() / (ours | theirs).sum()
    assert iou > 0.95


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([], "non-empty list"),
        ([[1, 1, 5, 5]], "at least 3"),
        ([[1, 1, 5, 5, 3]], "odd number"),
        ([[1, 1, 5, float("nan"), 3, 3]], "finite"),
        ([[1, 1, 5, float("inf"), 3, 3]], "finite"),
        ([[1, 1, 5, "5", 3, 3]], "finite"),
        ([[1, 1, 5, True, 3, 3]], "finite"),
        ("1,2,3,4,5,6", "non-empty list"),
    ],
)
def test_malformed_polygons_are_refused_with_a_reason(bad: object, message: str) -> None:
    with pytest.raises(rle.InvalidMask, match=message):
        rle.polygon_to_mask(bad, 10, 10)  # type: ignore[arg-type]


VALID = rle.encode(blob(10, 12, seed=0))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("not a dict", "must be an object"),
        ({"counts": VALID["counts"]}, "size must be"),
        ({"size": [10], "counts": VALID["counts"]}, "size must be"),
        ({"size": [10, 0], "counts": ""}, "size must be"),
        ({"size": [-10, 12], "counts": VALID["counts"]}, "size must be"),
        ({"size": [10.0, 12], "counts": VALID["counts"]}, "size must be"),
        ({"size": [True, 12], "counts": VALID["counts"]}, "size must be"),
        ({"size": [10**7, 10**7], "counts": "0"}, "larger than any image"),
        ({"size": [10, 12]}, "string or a list"),
        ({"size": [10, 12], "counts": 120}, "string or a list"),
        ({"size": [10, 12], "counts": [60, 1.5, 58.5]}, "whole numbers"),
        ({"size": [10, 12], "counts": [60, -1, 61]}, "negative"),
        ({"size": [10, 12], "counts": [60, 59]}, "cover 119 pixels"),
        ({"size": [10, 12], "counts": [60, 61]}, "cover 121 pixels"),
        ({"size": [10, 12], "counts": [2**70]}, "too large"),
        ({"size": [10, 12], "counts": VALID["counts"] + "1"}, "pixels but size"),
        ({"size": [10, 12], "counts": "0"}, "cover 0 pixels"),
        ({"size": [10, 12], "counts": ""}, "cover 0 pixels"),
        ({"size": [10, 12], "counts": VALID["counts"] + "~"}, "alphabet"),
        ({"size": [10, 12], "counts": VALID["counts"] + " "}, "alphabet"),
        ({"size": [10, 12], "counts": VALID["counts"] + "é"}, "alphabet"),
        ({"size": [10, 12], "counts": VALID["counts"] + "P"}, "middle of a run"),
        ({"size": [10, 12], "counts": "o" * 20 + "0"}, "too long"),
        ({"size": [10, 12], "counts": "0" + "O"}, "negative"),
    ],
)
def test_malformed_rle_is_refused_with_a_reason(bad: object, message: str) -> None:
    for read in (rle.decode, rle.area, rle.bbox):
        with pytest.raises(rle.InvalidMask, match=message):
            read(bad)  # type: ignore[arg-type]


def test_invalid_mask_is_a_value_error() -> None:
    assert issubclass(rle.InvalidMask, ValueError)


def test_encode_refuses_what_is_not_a_two_dimensional_mask() -> None:
    with pytest.raises(rle.InvalidMask, match="shape"):
        rle.encode(np.zeros((2, 2, 2), dtype=bool))
    with pytest.raises(rle.InvalidMask, match="shape"):
        rle.encode(np.zeros((0, 4), dtype=bool))
