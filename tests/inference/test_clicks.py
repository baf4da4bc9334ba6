"""The benchmark's click simulator, on masks whose answers are known."""

from __future__ import annotations

import numpy as np

from inference.clicks import IGNORE, iou, iou_after, next_click, number_of_clicks, run_clicks


def square_gt(size: int = 40, lo: int = 10, hi: int = 30) -> np.ndarray:
    gt = np.zeros((size, size), np.uint8)
    gt[lo:hi, lo:hi] = 255
    return gt


def test_first_click_is_the_object_pixel_farthest_from_its_boundary():
    click = next_click(None, square_gt())
    assert click.positive
    assert (click.x, click.y) in {(19, 19), (19, 20), (20, 19), (20, 20)}


def test_a_missed_region_gets_a_positive_click_inside_it():
    gt = square_gt()
    pred = np.zeros_like(gt, dtype=bool)
    pred[10:30, 10:20] = True  # the right half of the square is missed
    click = next_click(pred, gt)
    assert click.positive and 20 <= click.x < 30 and 10 <= click.y < 30


def test_a_spilled_region_gets_a_negative_click_inside_it():
    gt = square_gt()
    pred = gt == 255
    pred[0:8, 0:40] = True  # a band above the object is wrongly included
    click = next_click(pred, gt)
    assert not click.positive and click.y < 8


def test_iou_ignores_the_uncertain_band():
    gt = square_gt()
    gt[10, 10:30] = IGNORE
    pred = gt == 255
    assert iou(pred, gt) == 1.0
    assert iou(~pred, gt) == 0.0


def test_clicks_stop_once_the_target_is_reached_after_five_clicks():
    gt = square_gt()
    perfect = gt == 255
    ious = run_clicks(lambda clicks, prev: (perfect, np.zeros((256, 256), np.float32)), gt)
    assert ious == [1.0] * 5
    assert number_of_clicks(ious, 0.9) == 1


def test_noc_counts_the_maximum_when_the_target_is_never_reached():
    assert number_of_clicks([0.5] * 20, 0.85) == 20
    assert number_of_clicks([0.5, 0.86, 0.91], 0.85) == 2
    assert iou_after([0.5, 0.86, 0.91], 5) == 0.91
