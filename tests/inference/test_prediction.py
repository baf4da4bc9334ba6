"""The real MobileSAM on real photos: clicks, negative clicks, boxes, SAM's three
candidates and refinement with an earlier prediction's logits.

Prompts are in original-image pixels, x then y, picked by looking at the photos.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from inference.predict import Prediction

Segment = Callable[..., Prediction]
Point = tuple[int, int]
Box = tuple[int, int, int, int]

# skimage.data.coffee(), 600×400
COFFEE_CREMA = (290, 150)  # the surface of the coffee in the cup
COFFEE_TABLE = (40, 380)  # wood, bottom-left
CUP_BOX = (170, 15, 425, 330)  # the cup, its handle and the spoon leaning on it
# skimage.data.chelsea(), 451×300
CAT_FOREHEAD = (250, 60)
CAT_LEFT_EYE = (170, 115)  # the eye at the left of the picture
CAT_BACKGROUND = (430, 100)  # the blurred room at the right
# skimage.data.astronaut(), 512×512
HELMET = (400, 420)  # the dark visor of the helmet held at the bottom right
HELMET_BOX = (275, 340, 511, 511)
FACE = (225, 130)
SUIT = (100, 300)  # the orange suit, left of the mission patch
MISSION_PATCH = (170, 385)  # the round patch on the chest


def turned_clockwise(point: Point, height: int = 400) -> Point:
    """A point of coffee() in coffee_portrait(), the same photo turned a quarter clockwise."""
    x, y = point
    return height - 1 - y, x


def turned_box_clockwise(box: Box, height: int = 400) -> Box:
    x0, y0, x1, y1 = box
    return height - 1 - y1, x0, height - 1 - y0, x1


def covers(mask: npt.NDArray[np.bool_], point: Point) -> bool:
    x, y = point
    return bool(mask[y, x])


def best_mask(prediction: Prediction) -> npt.NDArray[np.bool_]:
    return prediction.masks[int(np.argmax(prediction.scores))]


def iou(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_]) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize(
    ("photo", "click", "elsewhere"),
    [
        ("coffee", COFFEE_CREMA, COFFEE_TABLE),
        ("coffee_portrait", turned_clockwise(COFFEE_CREMA), turned_clockwise(COFFEE_TABLE)),
        ("chelsea", CAT_FOREHEAD, CAT_BACKGROUND),
        ("astronaut", HELMET, FACE),
    ],
)
def test_a_click_on_an_object_gives_a_mask_around_the_click_and_not_elsewhere(
    photo: str, click: Point, elsewhere: Point, segment: Segment
) -> None:
    prediction = segment(photo, points=[click], labels=[1])

    mask = best_mask(prediction)
    assert covers(mask, click)
    assert not covers(mask, elsewhere)
    assert 0.01 < mask.mean() < 0.9  # an object, neither a speck nor the whole photo


def test_multimask_mode_gives_three_distinct_candidates_with_finite_scores(
    segment: Segment,
) -> None:
    prediction = segment("coffee", points=[COFFEE_CREMA], labels=[1], multimask=True)

    assert (prediction.masks.shape, prediction.masks.dtype) == ((3, 400, 600), np.bool_)
    assert (prediction.scores.shape, prediction.scores.dtype) == ((3,), np.float32)
    assert prediction.low_res_logits.shape == (3, 256, 256)
    assert np.isfinite(prediction.scores).all()
    assert np.isfinite(prediction.low_res_logits).all()
    areas = prediction.masks.sum(axis=(1, 2))
    assert len(set(areas.tolist())) == 3  # crema, the coffee, the whole cup: not copies
    assert all(covers(mask, COFFEE_CREMA) for mask in prediction.masks)


def test_single_mask_mode_gives_one_mask_and_one_score(segment: Segment) -> None:
    prediction = segment("coffee", points=[COFFEE_CREMA], labels=[1], multimask=False)

    assert prediction.masks.shape == (1, 400, 600)
    assert prediction.scores.shape == (1,)
    assert prediction.low_res_logits.shape == (1, 256, 256)
    assert np.isfinite(prediction.scores).all()
    assert covers(prediction.masks[0], COFFEE_CREMA)


@pytest.mark.parametrize(
    ("photo", "keep", "remove"),
    [
        ("astronaut", SUIT, MISSION_PATCH),
        ("chelsea", CAT_FOREHEAD, CAT_LEFT_EYE),
    ],
    ids=["patch off the suit", "eye off the cat"],
)
def test_a_negative_click_cuts_its_region_out_of_the_mask(
    photo: str, keep: Point, remove: Point, segment: Segment
) -> None:
    before = segment(photo, points=[keep], labels=[1], multimask=False).masks[0]
    after = segment(photo, points=[keep, remove], labels=[1, 0], multimask=False).masks[0]

    assert covers(before, remove)  # the region was in the mask to begin with
    assert not covers(after, remove)
    assert covers(after, keep)
    assert after.sum() < before.sum()


@pytest.mark.parametrize(
    ("photo", "box"),
    [
        ("coffee", CUP_BOX),
        ("coffee_portrait", turned_box_clockwise(CUP_BOX)),
        ("astronaut", HELMET_BOX),
    ],
)
def test_a_box_gives_a_mask_inside_the_box(photo: str, box: Box, segment: Segment) -> None:
    prediction = segment(photo, box=box)

    mask = best_mask(prediction)
    x0, y0, x1, y1 = box
    tolerance = 2
    in_box = mask[
        max(y0 - tolerance, 0) : y1 + tolerance + 1, max(x0 - tolerance, 0) : x1 + tolerance + 1
    ]
    assert in_box.sum() >= 0.99 * mask.sum()
    box_area = (x1 - x0) * (y1 - y0)
    assert mask.sum() >= 0.4 * box_area  # it found the object, not a sliver of it


def test_the_same_box_on_the_photo_turned_to_portrait_gives_the_same_mask_turned(
    segment: Segment,
) -> None:
    landscape = best_mask(segment("coffee", box=CUP_BOX))
    portrait = best_mask(segment("coffee_portrait", box=turned_box_clockwise(CUP_BOX)))

    assert portrait.shape == (600, 400)
    assert iou(np.rot90(landscape, k=-1), portrait) >= 0.9


def test_refining_with_the_previous_logits_and_a_negative_click_keeps_the_rest(
    segment: Segment,
) -> None:
    first = segment("astronaut", points=[SUIT], labels=[1], multimask=True)
    chosen = int(np.argmax(first.scores))
    assert covers(first.masks[chosen], MISSION_PATCH)

    refined = segment(
        "astronaut",
        points=[SUIT, MISSION_PATCH],
        labels=[1, 0],
        mask_input=first.low_res_logits[chosen],
        multimask=False,
    )

    mask = refined.masks[0]
    assert not covers(mask, MISSION_PATCH)
    assert covers(mask, SUIT)
    assert iou(mask, first.masks[chosen]) >= 0.7  # still the suit, less the patch
    # MobileSAM moves little with the earlier mask, but it does move: it was used.
    without_it = segment("astronaut", points=[SUIT, MISSION_PATCH], labels=[1, 0], multimask=False)
    assert (mask != without_it.masks[0]).sum() > 20


def test_feeding_back_the_previous_logits_with_the_same_click_keeps_the_mask(
    segment: Segment,
) -> None:
    first = segment("astronaut", points=[HELMET], labels=[1], multimask=True)
    chosen = int(np.argmax(first.scores))

    again = segment(
        "astronaut",
        points=[HELMET],
        labels=[1],
        mask_input=first.low_res_logits[chosen][None],  # (1, 256, 256) is accepted too
        multimask=False,
    )

    assert iou(again.masks[0], first.masks[chosen]) >= 0.95


def test_points_without_labels_are_refused(segment: Segment) -> None:
    with pytest.raises(ValueError, match="points need labels"):
        segment("coffee", points=[COFFEE_CREMA])


def test_points_and_labels_of_different_lengths_are_refused(segment: Segment) -> None:
    with pytest.raises(ValueError, match="2 points but 1 labels"):
        segment("coffee", points=[COFFEE_CREMA, COFFEE_TABLE], labels=[1])
