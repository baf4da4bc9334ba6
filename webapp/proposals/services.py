"""Turning proposals into annotations: the rules that span a proposal, its image and the
annotations already there.

An accepted proposal becomes an annotation through
:func:`webapp.annotations.services.create_annotation`, like any save (a version in its
history, an event, the tallies), with ``source="proposal"`` and the proposal's id. The
proposal row stays (it is replaced only when proposals are generated again); a proposal
with an annotation made from it counts as accepted and is neither listed nor accepted
again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from webapp.annotations import rle as rle_codec
from webapp.annotations.models import Annotation, AnnotationSource
from webapp.annotations.services import create_annotation, label_class_of
from webapp.images.models import Image
from webapp.proposals.models import Proposal, ProposalQuerySet

# accept-all leaves out a proposal when more than this share of its pixels is already
# covered by the image's annotations: it would be a second mask of the same object.
COVERED_SHARE = 0.5


class AlreadyAccepted(Exception):
    """The proposal was accepted before; ``annotation`` is what was made of it."""

    def __init__(self, annotation: Annotation) -> None:
        super().__init__(f"proposal {annotation.proposal_id} is annotation {annotation.pk}")
        self.annotation = annotation


def open_proposals(image: Image) -> ProposalQuerySet:
    """The image's proposals for its project's model that nobody accepted yet, most
    confident first."""
    accepted = Annotation.objects.filter(image=image, proposal_id__isnull=False).values(
        "proposal_id"
    )
    return Proposal.objects.of_image(image).exclude(pk__in=accepted)


def accept_proposal(
    proposal: Proposal, *, label_class: object, user: AbstractBaseUser | None
) -> Annotation:
    """Make an annotation of ``label_class`` from ``proposal``, as ``user``; raise
    AlreadyAccepted when someone did already, or AnnotationRejected for a bad class."""
    image = proposal.image
    with transaction.atomic():
        # The proposal locked (PostgreSQL) so that two accepts at once make one annotation.
        Proposal.objects.select_for_update().filter(pk=proposal.pk).exists()
        made = Annotation.objects.filter(image=image, proposal_id=proposal.pk).first()
        if made is not None:
            raise AlreadyAccepted(made)
        return create_annotation(
            image,
            author=user,
            label_class=label_class,
            rle=proposal.rle,
            source=AnnotationSource.PROPOSAL,
            proposal_id=proposal.pk,
        )


def accept_all(
    image: Image, *, label_class: object, min_iou: float, user: AbstractBaseUser | None
) -> dict[str, int]:
    """Make annotations of ``label_class`` from every open proposal of ``image`` whose
    predicted IoU is at least ``min_iou``, leaving out those mostly covered by the image's
    annotations (and by those made here before them), in one transaction:
    ``{"created": n, "skipped_covered": m}``. Raises AnnotationRejected for a bad class
    (then nothing is made)."""
    label_class_of(image, label_class)
    created = skipped = 0
    with transaction.atomic():
        # Locked (PostgreSQL) so that a second accept-all at once waits and finds them taken.
        candidates = list(
            open_proposals(image).filter(predicted_iou__gte=min_iou).select_for_update()
        )
        covered = _covered_pixels(image)
        for proposal in candidates:
            mask = rle_codec.decode(proposal.rle)
            if covered is not None and _share_covered(mask, covered) > COVERED_SHARE:
                skipped += 1
                continue
            create_annotation(
                image,
                author=user,
                label_class=label_class,
                rle=proposal.rle,
                source=AnnotationSource.PROPOSAL,
                proposal_id=proposal.pk,
            )
            covered = mask if covered is None else covered | mask
            created += 1
    return {"created": created, "skipped_covered": skipped}


def _covered_pixels(image: Image) -> np.ndarray | None:
    """(H, W) bool: the pixels some annotation of ``image`` covers; None when none does."""
    covered: np.ndarray | None = None
    for rle in Annotation.objects.filter(image=image).values_list("rle", flat=True):
        mask = rle_codec.decode(rle)
        covered = mask if covered is None else covered | mask
    return covered


def _share_covered(mask: np.ndarray, covered: np.ndarray) -> float:
    area = int(mask.sum())
    return int((mask & covered).sum()) / area if area else 1.0


def suggestion_for(project: Any, proposal: Proposal) -> dict[str, Any] | None:
    """The most likely label class of the proposal's mask, ``{"label_class": id,
    "confidence": float}``, from ``webapp.suggestions.rank`` when that app is installed
    and the proposal has a pooled feature; None otherwise."""
    rank = _rank_function()
    if rank is None or proposal.feature is None:
        return None
    feature = np.frombuffer(bytes(proposal.feature), dtype="<f2").astype(np.float32)
    ranked = rank(project, feature)
    if not ranked:
        return None
    best = ranked[0]
    return {"label_class": best["label_class"], "confidence": float(best["confidence"])}


def _rank_function() -> Any:
    try:
        from webapp import suggestions
    except ImportError:
        return None
    return getattr(suggestions, "rank", None)
