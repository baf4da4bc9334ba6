"""Segment everything: the generation on a real photo with the real MobileSAM, its
parts (suppression, stability, small regions) on synthetic masks, and the command."""

from __future__ import annotations

import json
import subprocess
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch
from PIL import Image

from inference import rle
from inference.everything import (
    EverythingParams,
    MaskProposal,
    box_iou,
    box_nms,
    connected_runs,
    crop_boxes,
    decode_points,
    generate,
    masks_to_boxes,
    point_grid,
    remove_small_regions,
    stability_score,
)
from inference.modeling.sam import Sam
from inference.transforms import ResizeTransform
from tests.inference.conftest import EncodedPhoto

GRID = 16  # points per side for the real photo (a 32×32 grid takes minutes on a CPU)


def crema() -> npt.NDArray[np.bool_]:
    """(400, 600) bool: the coffee's surface in skimage's coffee photo, an ellipse drawn
    by eye around the crema inside the cup's rim."""
    ys, xs = np.mgrid[:400, :600]
    return ((xs - 287) / 82.0) ** 2 + ((ys - 144) / 48.0) ** 2 <= 1.0


def mask_iou(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_]) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.fixture(scope="module")
def coffee_proposals(
    mobile_sam: Sam, encode_photo: Callable[[str], EncodedPhoto]
) -> list[MaskProposal]:
    photo = encode_photo("coffee")
    params = EverythingParams(points_per_side=GRID)
    return generate(photo.embedding, photo.size, params, mobile_sam)


# ---- the real photo ------------------------------------------------------------------


def test_generation_on_coffee_finds_the_crema(coffee_proposals: list[MaskProposal]) -> None:
    best = max(mask_iou(rle.decode(p.rle), crema()) for p in coffee_proposals)
    assert best >= 0.8


def test_generation_on_coffee_gives_a_sane_number_of_masks(
    coffee_proposals: list[MaskProposal],
) -> None:
    assert 3 <= len(coffee_proposals) <= 60


def test_every_proposal_passed_the_quality_filters(coffee_proposals: list[MaskProposal]) -> None:
    params = EverythingParams()
    for p in coffee_proposals:
        assert p.predicted_iou > params.pred_iou_thresh
        assert p.stability >= params.stability_score_thresh


def test_proposals_come_best_first_with_their_own_area_box_and_point(
    coffee_proposals: list[MaskProposal],
) -> None:
    ious = [p.predicted_iou for p in coffee_proposals]
    assert ious == sorted(ious, reverse=True)
    for p in coffee_proposals:
        mask = rle.decode(p.rle)
        assert mask.shape == (400, 600)
        assert p.area == int(mask.sum()) > 0
        assert p.bbox == rle.bbox(p.rle)
        x, y = p.point
        assert 0 <= x < 600 and 0 <= y < 400


def test_no_two_proposals_overlap_beyond_the_suppression_threshold(
    coffee_proposals: list[MaskProposal],
) -> None:
    boxes = masks_to_boxes(
        torch.from_numpy(np.stack([rle.decode(p.rle) for p in coffee_proposals]))
    )
    overlaps = box_iou(boxes, boxes).fill_diagonal_(0)
    assert overlaps.max() <= EverythingParams().box_nms_thresh


def test_decoding_many_points_gives_the_mask_decoders_masks_and_scores(
    mobile_sam: Sam, encode_photo: Callable[[str], EncodedPhoto]
) -> None:
    photo = encode_photo("coffee")
    points = np.array([[290, 140], [360, 270], [50, 50], [230, 260], [500, 380]], np.float32)
    coords = torch.as_tensor(ResizeTransform(*photo.size).to_model(points))
    embedding = torch.as_tensor(photo.embedding)
    with torch.inference_mode():
        logits, ious, index = decode_points(mobile_sam, embedding, coords, -1e9)
        sparse, dense = mobile_sam.prompt_encoder(
            (coords[:, None], torch.ones((5, 1), dtype=torch.int64)), None, None
        )
        want_logits, want_ious = mobile_sam.mask_decoder(
            embedding, mobile_sam.prompt_encoder.get_dense_pe(), sparse, dense, True
        )
    assert index.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    torch.testing.assert_close(ious, want_ious.reshape(-1), atol=1e-4, rtol=0)
    torch.testing.assert_close(logits, want_logits.reshape(-1, 256, 256), atol=1e-3, rtol=0)
    same_pixels = (logits > 0) == (want_logits.reshape(-1, 256, 256) > 0)
    assert same_pixels.float().mean() > 0.9999


@pytest.mark.parametrize(("size", "extent"), [((400, 600), (172, 256)), ((600, 400), (256, 172))])
def test_decoding_for_an_image_upscales_only_its_part_with_the_same_values(
    mobile_sam: Sam,
    encode_photo: Callable[[str], EncodedPhoto],
    size: tuple[int, int],
    extent: tuple[int, int],
) -> None:
    """The coffee photo's embedding, decoded for its own landscape frame and for a
    portrait one (cutting token columns instead of rows)."""
    photo = encode_photo("coffee")
    points = np.array([[290, 140], [360, 270], [50, 50]], np.float32)
    coords = torch.as_tensor(ResizeTransform(*photo.size).to_model(points))
    embedding = torch.as_tensor(photo.embedding)
    with torch.inference_mode():
        whole, whole_ious, whole_index = decode_points(mobile_sam, embedding, coords, -1e9)
        part, ious, index = decode_points(
            mobile_sam, embedding, coords, -1e9, transform=ResizeTransform(*size)
        )
    assert part.shape == (9, *extent)
    assert torch.equal(index, whole_index) and torch.equal(ious, whole_ious)
    torch.testing.assert_close(part, whole[:, : extent[0], : extent[1]], atol=1e-5, rtol=0)


# ---- the parts -----------------------------------------------------------------------


def test_suppression_drops_the_lesser_of_two_overlapping_boxes_only() -> None:
    boxes = torch.tensor([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 0, 10, 5]])
    scores = torch.tensor([0.8, 0.9, 0.5, 0.7])
    # 0 and 1 overlap with IoU 9/11 (> 0.7): 1 wins; 3 overlaps 1 by 4.5/10.5, kept.
    assert box_nms(boxes, scores, 0.7).tolist() == [1, 3, 2]
    assert box_nms(boxes, scores, 0.9).tolist() == [1, 0, 3, 2]
    assert box_nms(torch.zeros((0, 4)), torch.zeros(0), 0.7).tolist() == []


def test_stability_is_the_iou_of_the_masks_at_the_shifted_thresholds() -> None:
    logits = torch.full((2, 10, 10), -5.0)
    logits[0, :4, :] = 3.0  # 40 pixels above +1
    logits[0, 4:6, :] = 0.5  # 20 more above -1
    logits[1, :5, :5] = 2.0  # equal at both thresholds
    assert stability_score(logits, 1.0).tolist() == pytest.approx([40 / 60, 1.0])
    assert stability_score(torch.full((1, 4, 4), -9.0), 1.0).tolist() == [0.0]


def test_boxes_of_masks_are_inclusive_pixel_bounds() -> None:
    masks = torch.zeros((2, 6, 8), dtype=torch.bool)
    masks[0, 1:3, 2:7] = True
    assert masks_to_boxes(masks).tolist() == [[2, 1, 6, 2], [0, 0, 0, 0]]


def test_small_islands_are_dropped_and_small_holes_filled() -> None:
    mask = np.zeros((40, 40), bool)
    mask[5:30, 5:30] = True
    mask[10:12, 10:12] = False  # a hole of 4 pixels
    mask[35:37, 35:37] = True  # an island of 4 pixels
    cleaned, changed = remove_small_regions(mask, 10)
    want = np.zeros((40, 40), bool)
    want[5:30, 5:30] = True
    assert changed and np.array_equal(cleaned, want)
    again, changed_again = remove_small_regions(want, 10)
    assert not changed_again and np.array_equal(again, want)


def test_when_every_island_is_small_the_largest_stays() -> None:
    mask = np.zeros((20, 20), bool)
    mask[1:3, 1:3] = True
    mask[10:13, 10:13] = True
    cleaned, changed = remove_small_regions(mask, 100)
    assert changed and cleaned.sum() == 9 and cleaned[11, 11]


def _flood_fill_components(mask: npt.NDArray[np.bool_]) -> int:
    seen = np.zeros_like(mask)
    count = 0
    for y, x in zip(*np.nonzero(mask), strict=True):
        if seen[y, x]:
            continue
        count += 1
        queue = deque([(y, x)])
        seen[y, x] = True
        while queue:
            cy, cx = queue.popleft()
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = cy + dy, cx + dx
                    inside = 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1]
                    if inside and mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        queue.append((ny, nx))
    return count


@pytest.mark.parametrize("seed", range(8))
def test_components_are_those_an_eight_way_flood_fill_finds(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random((30, 37)) < rng.uniform(0.2, 0.6)
    _, _, _, component = connected_runs(mask)
    found = int(component.max()) + 1 if len(component) else 0
    assert found == _flood_fill_components(mask)


def test_pixels_touching_at_a_corner_are_one_component() -> None:
    mask = np.eye(5, dtype=bool)
    assert set(connected_runs(mask)[3].tolist()) == {0}


def test_a_proposals_rle_round_trips_to_its_mask() -> None:
    mask = np.zeros((7, 9), bool)
    mask[2:5, 3:8] = True
    encoded = rle.encode(mask)
    assert isinstance(encoded["counts"], str)
    assert np.array_equal(rle.decode(encoded), mask)
    assert rle.area(encoded) == 15 and rle.bbox(encoded) == [3, 2, 5, 3]


def test_the_grid_holds_cell_centres_x_first() -> None:
    assert point_grid(2).tolist() == [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]


def test_crops_of_the_first_layer_cover_the_image_and_overlap() -> None:
    crops = crop_boxes((400, 600), 1, 512 / 1500)
    assert crops[0] == ((0, 0, 600, 400), 0)
    quarter = np.zeros((400, 600), int)
    for (x0, y0, x1, y1), layer in crops[1:]:
        assert layer == 1
        quarter[y0:y1, x0:x1] += 1
    assert len(crops) == 5 and quarter.min() == 1 and quarter.max() == 4


def test_crops_need_the_image_and_an_encoder(mobile_sam: Sam) -> None:
    with pytest.raises(ValueError, match="encoder"):
        generate(
            np.zeros((1, 256, 64, 64), np.float32),
            (400, 600),
            EverythingParams(crop_n_layers=1),
            mobile_sam,
        )


def test_settings_round_trip_and_refuse_unknown_names_and_bad_values() -> None:
    params = EverythingParams(points_per_side=8, min_mask_region_area=100)
    assert EverythingParams.from_dict(json.loads(json.dumps(params.as_dict()))) == params
    assert EverythingParams.from_dict({}) == EverythingParams()
    with pytest.raises(ValueError, match="points_per_sid"):
        EverythingParams.from_dict({"points_per_sid": 8})
    with pytest.raises(ValueError, match="pred_iou_thresh"):
        EverythingParams(pred_iou_thresh=1.5)
    with pytest.raises(ValueError, match="points_per_side"):
        EverythingParams(points_per_side=0)
    with pytest.raises(ValueError, match="points_per_batch"):
        EverythingParams(points_per_batch=-1)


def test_the_batch_size_does_not_change_the_masks(
    mobile_sam: Sam,
    encode_photo: Callable[[str], EncodedPhoto],
    coffee_proposals: list[MaskProposal],
) -> None:
    """The default batch (0: chosen for the device) and an odd one give the same masks."""
    photo = encode_photo("coffee")
    params = EverythingParams(points_per_side=GRID, points_per_batch=5)
    odd = generate(photo.embedding, photo.size, params, mobile_sam)
    assert [p.rle for p in odd] == [p.rle for p in coffee_proposals]
    assert [p.predicted_iou for p in odd] == pytest.approx(
        [p.predicted_iou for p in coffee_proposals], abs=1e-5
    )


# ---- the command ---------------------------------------------------------------------


def test_command_writes_each_images_masks_as_coco_rle_json(
    tmp_path: Path, run_command: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    import skimage.data

    path = tmp_path / "coffee.png"
    Image.fromarray(skimage.data.coffee()).save(path)
    result = run_command(
        "inference.everything", path, "--out", tmp_path / "out", "--points-per-side", "6"
    )
    assert result.returncode == 0, result.stderr
    records = json.loads((tmp_path / "out" / "coffee.json").read_text())
    assert records, "no mask at all on the coffee photo"
    for record in records:
        assert set(record) == {
            "segmentation",
            "area",
            "bbox",
            "predicted_iou",
            "stability_score",
            "point_coords",
        }
        mask = rle.decode(record["segmentation"])
        assert mask.shape == (400, 600) and int(mask.sum()) == record["area"]
        assert record["bbox"] == rle.bbox(record["segmentation"])
