"""Segment everything's options end to end, through the public ``generate`` only, on a
real photo with the real MobileSAM weights: crops (``crop_n_layers=1``, each crop
encoded anew with a real encoder) give masks in the whole image's frame, and
``min_mask_region_area`` leaves no island or hole smaller than the area.

A 6 × 6 grid keeps the three generations short on a small CPU; the checks of what the
masks are made of are independent of ours (scipy's labelling, pycocotools' RLE).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from pycocotools import mask as coco_mask
from scipy import ndimage

from inference.encode import get_encoder
from inference.everything import EverythingParams, MaskProposal, crop_boxes, generate
from inference.modeling.sam import Sam
from tests.inference.conftest import DEVICE, EncodedPhoto

pytestmark = pytest.mark.slow

GRID = 6
MIN_AREA = 500  # pixels; the coffee photo is 600 × 400
EIGHT_WAY = np.ones((3, 3), dtype=bool)


def decoded(proposal: MaskProposal) -> npt.NDArray[np.bool_]:
    """The mask as pycocotools reads the RLE, (H, W) bool."""
    rle = {"size": proposal.rle["size"], "counts": proposal.rle["counts"].encode()}
    return coco_mask.decode(rle).astype(bool)


def region_sizes(mask: npt.NDArray[np.bool_]) -> tuple[list[int], list[int]]:
    """Sizes of the 8-connected islands of ``mask`` and of its holes (the connected
    parts of the background, those touching the border included, as SAM counts them)."""
    islands, _ = ndimage.label(mask, EIGHT_WAY)
    holes, _ = ndimage.label(~mask, EIGHT_WAY)
    return np.bincount(islands.ravel())[1:].tolist(), np.bincount(holes.ravel())[1:].tolist()


def has_small_parts(mask: npt.NDArray[np.bool_], area: int) -> bool:
    """Whether ``mask`` has a hole smaller than ``area``, or an island smaller than it
    beside another island (a lone island stays, however small)."""
    islands, holes = region_sizes(mask)
    return (len(islands) > 1 and min(islands) < area) or (bool(holes) and min(holes) < area)


def mask_iou(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_]) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.fixture(scope="module")
def coffee(encode_photo: Callable[[str], EncodedPhoto]) -> EncodedPhoto:
    return encode_photo("coffee")


@pytest.fixture(scope="module")
def plain(mobile_sam: Sam, coffee: EncodedPhoto) -> list[MaskProposal]:
    """The whole image only, nothing removed."""
    params = EverythingParams(points_per_side=GRID)
    return generate(coffee.embedding, coffee.size, params, mobile_sam)


@pytest.fixture(scope="module")
def cleaned(mobile_sam: Sam, coffee: EncodedPhoto) -> list[MaskProposal]:
    params = EverythingParams(points_per_side=GRID, min_mask_region_area=MIN_AREA)
    return generate(coffee.embedding, coffee.size, params, mobile_sam)


@pytest.fixture(scope="module")
def cropped(mobile_sam: Sam, coffee: EncodedPhoto) -> list[MaskProposal]:
    params = EverythingParams(points_per_side=GRID, crop_n_layers=1)
    encoder = get_encoder("mobile_sam", DEVICE)
    return generate(
        coffee.embedding, coffee.size, params, mobile_sam, image=coffee.pixels, encoder=encoder
    )


# ---- min_mask_region_area ------------------------------------------------------------


def test_without_the_option_some_mask_has_a_small_island_or_hole(
    plain: list[MaskProposal],
) -> None:
    # Else the next test would prove nothing on this photo and grid.
    assert any(has_small_parts(decoded(p), MIN_AREA) for p in plain)


def test_no_mask_keeps_an_island_or_hole_smaller_than_the_area(
    cleaned: list[MaskProposal],
) -> None:
    assert cleaned
    for proposal in cleaned:
        assert not has_small_parts(decoded(proposal), MIN_AREA), region_sizes(decoded(proposal))


def test_a_cleaned_mask_is_one_of_the_plain_masks_with_only_small_parts_changed(
    plain: list[MaskProposal], cleaned: list[MaskProposal]
) -> None:
    for proposal in cleaned:
        mask = decoded(proposal)
        source = max(plain, key=lambda p: mask_iou(mask, decoded(p)))
        changed = int((mask ^ decoded(source)).sum())
        assert changed < MIN_AREA * 4, (proposal.point, changed)
        assert proposal.predicted_iou == pytest.approx(source.predicted_iou)


def test_a_cleaned_masks_area_and_box_are_those_of_its_pixels(
    cleaned: list[MaskProposal],
) -> None:
    for proposal in cleaned:
        mask = decoded(proposal)
        ys, xs = np.nonzero(mask)
        assert proposal.area == int(mask.sum())
        assert proposal.bbox == [
            int(xs.min()),
            int(ys.min()),
            int(xs.max() - xs.min() + 1),
            int(ys.max() - ys.min() + 1),
        ]


# ---- crops ---------------------------------------------------------------------------


def test_crops_give_masks_at_the_whole_images_size_with_their_own_area_and_box(
    coffee: EncodedPhoto, cropped: list[MaskProposal]
) -> None:
    assert cropped
    for proposal in cropped:
        mask = decoded(proposal)
        assert mask.shape == coffee.size
        ys, xs = np.nonzero(mask)
        assert proposal.area == int(mask.sum())
        assert proposal.bbox[:2] == [int(xs.min()), int(ys.min())]


def test_crops_find_masks_the_whole_image_alone_does_not(
    plain: list[MaskProposal], cropped: list[MaskProposal]
) -> None:
    plain_masks = [decoded(p) for p in plain]
    new = [p for p in cropped if all(mask_iou(decoded(p), m) < 0.9 for m in plain_masks)]
    assert new, "the crops added nothing"


def test_a_crops_masks_lie_where_their_grid_points_are_in_the_whole_image(
    coffee: EncodedPhoto, plain: list[MaskProposal], cropped: list[MaskProposal]
) -> None:
    """A mask from a crop is shifted by the crop's corner into the image's frame: its
    grid point (in image pixels) lies on it, and it lies inside its crop. A mask left in
    the crop's own frame would miss both for every crop but the top-left one."""
    crops = [box for box, layer in crop_boxes(coffee.size, 1, 512 / 1500) if layer == 1]
    plain_points = {p.point for p in plain}
    from_crops = [p for p in cropped if p.point not in plain_points]
    assert from_crops, "no mask came from a crop"
    on_their_point = 0
    corners_seen = set()
    for proposal in from_crops:
        mask = decoded(proposal)
        x, y = proposal.point
        on_their_point += bool(mask[int(y), int(x)])
        holding = [
            (x0, y0)
            for x0, y0, x1, y1 in crops
            if x0 <= x < x1 and y0 <= y < y1 and mask[:y0].sum() + mask[y1:].sum() == 0
            and mask[:, :x0].sum() + mask[:, x1:].sum() == 0
        ]  # fmt: skip
        assert holding, f"the mask of point {proposal.point} spills out of every crop"
        corners_seen.update(holding)
    # SAM's mask almost always covers the point that prompted it.
    assert on_their_point >= 0.8 * len(from_crops), (on_their_point, len(from_crops))
    # Masks came from crops other than the top-left one, where a missing shift shows.
    assert corners_seen - {(0, 0)}
