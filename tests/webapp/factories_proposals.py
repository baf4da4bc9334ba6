"""Rows and stand-ins the proposal tests share: an encoded image (a stored embedding of
zeros), masks shaped as ``inference.everything.MaskProposal``, and proposals stored as
a finished run stores them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.webapp.factories_annotations import make_image
from webapp.annotations import rle
from webapp.images.models import Image, ImageEmbedding
from webapp.projects.models import Project
from webapp.proposals.models import Proposal, ProposalRun


@dataclass(frozen=True)
class FakeMask:
    rle: dict[str, Any]
    area: int
    bbox: list[int]
    predicted_iou: float
    stability: float
    point: tuple[float, float]


def square(y: int, x: int, size: int, height: int = 48, width: int = 64) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[y : y + size, x : x + size] = True
    return mask


def fake_mask(mask: np.ndarray, predicted_iou: float = 0.95) -> FakeMask:
    encoded = rle.encode(mask)
    ys, xs = np.nonzero(mask)
    return FakeMask(
        rle=encoded,
        area=rle.area(encoded),
        bbox=rle.bbox(encoded),
        predicted_iou=predicted_iou,
        stability=0.97,
        point=(float(xs.mean()), float(ys.mean())),
    )


def encoded_image(project: Project, width: int = 64, height: int = 48) -> Image:
    """An image row (tiny file) with a stored embedding of zeros: status ready."""
    image = make_image(project, width=width, height=height)
    ImageEmbedding.store(image, project.model, np.zeros((256, 64, 64), dtype=np.float32))
    image.refresh_from_db()
    return image


def store_proposals(image: Image, masks: list[FakeMask]) -> list[Proposal]:
    """Proposals of ``image`` as a finished run leaves them, most confident first."""
    run, _ = ProposalRun.objects.get_or_create(image=image, model=image.project.model)
    ProposalRun.objects.filter(pk=run.pk).update(status="pending")
    run.refresh_from_db()
    assert run.claim()
    assert run.store(masks, {"points_per_side": 32}, 0.1)
    return list(Proposal.objects.filter(image=image).order_by("-predicted_iou", "id"))
