"""Crop boxes of large images: snapped to the grid, square, at least SAM's input side,
always holding the window, inside the image, the same for nearby windows; windows that
get no crop are refused with the reason."""

from __future__ import annotations

import numpy as np
import pytest

from inference.crops import GRID, MIN_CROP_SIDE, CropBox, CropRefused, crop_box_for


def test_a_small_window_gets_a_grid_aligned_square_of_the_smallest_side() -> None:
    box = crop_box_for([3000, 2000, 3300, 2200], 6000, 4000)
    assert (box.width, box.height) == (MIN_CROP_SIDE, MIN_CROP_SIDE)
    assert box.x0 % GRID == 0 and box.y0 % GRID == 0
    assert box.contains([3000, 2000, 3300, 2200])


def test_nearby_windows_share_one_crop() -> None:
    first = crop_box_for([3000, 2000, 3300, 2200], 6000, 4000)
    second = crop_box_for([3010, 2030, 3290, 2210], 6000, 4000)
    assert first == second


@pytest.mark.parametrize(
    "window",
    [[0, 0, 900, 700], [5500, 3500, 6000, 4000], [5900, 10, 5999, 900], [-50, -50, 200, 200]],
)
def test_a_window_at_the_edge_gets_a_crop_pushed_inside_the_image(window: list[float]) -> None:
    box = crop_box_for(window, 6000, 4000)
    assert 0 <= box.x0 < box.x1 <= 6000 and 0 <= box.y0 < box.y1 <= 4000
    assert box.width == box.height == MIN_CROP_SIDE
    clipped = [max(window[0], 0), max(window[1], 0), min(window[2], 6000), min(window[3], 4000)]
    assert box.contains(clipped)


def test_a_larger_window_gets_a_larger_square_that_holds_it() -> None:
    box = crop_box_for([1000, 1000, 2900, 2100], 6000, 4000)
    assert box.width == box.height == 2304  # the grid cells 768..3072 it touches
    assert box.contains([1000, 1000, 2900, 2100])


def test_a_panorama_crop_takes_the_whole_short_side() -> None:
    box = crop_box_for([4000, 100, 4500, 400], 10000, 800)
    assert (box.y0, box.y1) == (0, 800)
    assert box.width == MIN_CROP_SIDE and box.contains([4000, 100, 4500, 400])


@pytest.mark.parametrize(
    ("window", "size", "reason"),
    [
        ([0, 0, 100, 100], (2000, 1500), "enough detail whole"),
        ([0, 0, 5000, 3000], (6000, 4000), "zoom in further"),
        ([7000, 0, 8000, 100], (6000, 4000), "outside the image"),
        ([10, 10, 5, 20], (6000, 4000), "x0 < x1"),
        ([0, 0, float("nan"), 5], (6000, 4000), "finite"),
        ([0, 0, 5], (6000, 4000), "four"),
    ],
)
def test_windows_that_get_no_crop_are_refused_with_the_reason(
    window: list[float], size: tuple[int, int], reason: str
) -> None:
    with pytest.raises(CropRefused, match=reason):
        crop_box_for(window, *size)


def test_a_crop_mask_is_pasted_at_its_place_in_the_whole_image() -> None:
    box = CropBox(256, 512, 256 + 4, 512 + 3)
    mask = np.zeros((3, 4), dtype=bool)
    mask[1, 2] = True
    whole = box.paste(mask, (1000, 1000))
    assert whole.shape == (1000, 1000)
    assert list(zip(*np.nonzero(whole), strict=True)) == [(513, 258)]
    assert box.to_crop([[258.0, 513.0]]).tolist() == [[2.0, 1.0]]
    assert box.boxes_to_crop([256, 512, 260, 515]).tolist() == [0, 0, 4, 3]
