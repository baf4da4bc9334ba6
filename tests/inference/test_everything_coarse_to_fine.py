"""Segment everything with ``skip_covered_points``: the grid decoded coarse to fine, points
inside a mask already found skipped; on the real photo with the real MobileSAM."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inference import everything, rle
from inference.everything import (
    EverythingParams,
    MaskProposal,
    box_iou,
    coarse_to_fine,
    generate,
    masks_to_boxes,
)
from inference.modeling.sam import Sam
from tests.inference.conftest import EncodedPhoto
from tests.inference.test_everything import crema, mask_iou

GRID = 16


def test_coarse_to_fine_visits_every_point_once_sparse_rounds_first() -> None:
    rounds = coarse_to_fine(32)
    assert [len(r) for r in rounds] == [64, 192, 768]
    assert sorted(np.concatenate(rounds).tolist()) == list(range(32 * 32))
    rows, cols = np.divmod(rounds[0], 32)
    assert set(rows.tolist()) == set(cols.tolist()) == set(range(1, 32, 4))


@pytest.fixture(scope="module")
def skipping_run(
    mobile_sam: Sam, encode_photo: Callable[[str], EncodedPhoto]
) -> tuple[list[MaskProposal], int]:
    """The coffee photo's proposals with skipping, and how many points were decoded."""
    photo = encode_photo("coffee")
    decoded = 0
    original = everything.decode_points

    def counting(*args: object, **kwargs: object) -> tuple[torch.Tensor, ...]:
        nonlocal decoded
        decoded += len(args[2])  # type: ignore[arg-type]
        return original(*args, **kwargs)  # type: ignore[arg-type]

    params = EverythingParams(points_per_side=GRID, skip_covered_points=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(everything, "decode_points", counting)
        proposals = generate(photo.embedding, photo.size, params, mobile_sam)
    return proposals, decoded


def test_skipping_covered_points_decodes_fewer_points_and_still_finds_the_crema(
    skipping_run: tuple[list[MaskProposal], int],
) -> None:
    proposals, decoded = skipping_run
    assert 0 < decoded < GRID * GRID
    assert max(mask_iou(rle.decode(p.rle), crema()) for p in proposals) >= 0.8


def test_with_skipping_every_proposal_passed_the_filters_and_the_suppression(
    skipping_run: tuple[list[MaskProposal], int],
) -> None:
    proposals, _ = skipping_run
    params = EverythingParams()
    for p in proposals:
        assert p.predicted_iou > params.pred_iou_thresh
        assert p.stability >= params.stability_score_thresh
    masks = torch.from_numpy(np.stack([rle.decode(p.rle) for p in proposals]))
    boxes = masks_to_boxes(masks)
    assert box_iou(boxes, boxes).fill_diagonal_(0).max() <= params.box_nms_thresh


def test_skip_covered_points_is_a_stored_switch() -> None:
    params = EverythingParams(skip_covered_points=True)
    assert EverythingParams.from_dict(params.as_dict()) == params
    with pytest.raises(ValueError, match="skip_covered_points"):
        EverythingParams(skip_covered_points=1)  # type: ignore[arg-type]


def test_command_takes_the_switch(
    tmp_path: Path, run_command: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    import skimage.data

    path = tmp_path / "coffee.png"
    Image.fromarray(skimage.data.coffee()).save(path)
    args = ["--points-per-side", "4", "--skip-covered-points"]
    result = run_command("inference.everything", path, "--out", tmp_path / "out", *args, "yes")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "coffee.json").exists()
    refused = run_command("inference.everything", path, "--out", tmp_path / "o2", *args, "maybe")
    assert refused.returncode == 2 and "expected true or false" in refused.stderr
