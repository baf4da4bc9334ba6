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

from dataclasses import dataclass
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
# Accept-all leaves out a proposal covering at least this share of the image: the whole
# frame is no object, and accepted first (it is often the most confident) it would
# count every proposal after it as covered. A click still accepts it.
WHOLE_IMAGE_SHARE = 0.95


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


@dataclass(frozen=True)
class AcceptedAll:
    """What one accept-all did: the annotations it made (most confident proposal
    first), how many proposals it left out as mostly covered already, (accepting with
    the suggested classes) how many it left for lack of a confident suggestion, and how
    many as covering nearly the whole image."""

    annotations: list[Annotation]
    skipped_covered: int
    skipped_unsure: int = 0
    skipped_whole_image: int = 0


def accept_all(
    image: Image,
    *,
    label_class: object = None,
    suggested: bool = False,
    min_iou: float,
    user: AbstractBaseUser | None,
) -> AcceptedAll:
    """Make annotations from every open proposal of ``image`` whose predicted IoU is at
    least ``min_iou``, leaving out those mostly covered by the image's annotations (and
    by those made here before them) and those covering nearly the whole image
    (:data:`WHOLE_IMAGE_SHARE`), in one transaction: all of ``label_class``, or with
    ``suggested`` each of its suggested class where the annotator would pre-select it
    (the others are left open). Raises AnnotationRejected for a bad class (then nothing
    is made)."""
    if not suggested:
        label_class_of(image, label_class)
    created: list[Annotation] = []
    skipped = unsure = whole = 0
    with transaction.atomic():
        # Locked (PostgreSQL) so that a second accept-all at once waits and finds them taken.
        candidates = list(
            open_proposals(image).filter(predicted_iou__gte=min_iou).select_for_update()
        )
        classes: dict[int, object] = {p.pk: label_class for p in candidates}
        if suggested:
            found = suggestions_for(image.project, candidates)
            classes = {pk: s["label_class"] for pk, s in found.items() if s["preselect"]}
        covered = _covered_pixels(image)
        for proposal in candidates:
            if proposal.pk not in classes:
                unsure += 1
                continue
            mask = rle_codec.decode(proposal.rle)
            if mask.sum() >= WHOLE_IMAGE_SHARE * mask.size:
                whole += 1
                continue
            if covered is not None and _share_covered(mask, covered) > COVERED_SHARE:
                skipped += 1
                continue
            annotation = create_annotation(
                image,
                author=user,
                label_class=classes[proposal.pk],
                rle=proposal.rle,
                source=AnnotationSource.PROPOSAL,
                proposal_id=proposal.pk,
                class_suggested=suggested,
            )
            covered = mask if covered is None else covered | mask
            created.append(annotation)
    return AcceptedAll(created, skipped, unsure, whole)


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


def suggestions_for(project: Any, proposals: list[Proposal]) -> dict[int, dict[str, Any]]:
    """{proposal id: ``{"label_class": id, "confidence": float, "preselect": bool}``}:
    the most likely label class of each proposal that has a pooled feature and a
    suggestion (``preselect``: the annotator pre-selects it), from
    ``webapp.suggestions`` (``rank_many``: the project's examples read once; ``rank``
    per proposal otherwise) when that app is installed; empty otherwise."""
    try:
        import webapp.suggestions as suggestions
    except ImportError:
        return {}
    pooled = [p for p in proposals if p.feature is not None]
    if not pooled:
        return {}
    features = [np.frombuffer(bytes(p.feature), dtype="<f2").astype(np.float32) for p in pooled]
    rank_many = getattr(suggestions, "rank_many", None)
    if rank_many is not None:
        rankings = rank_many(project, features)
    else:
        rankings = [suggestions.rank(project, feature) for feature in features]
    return {
        proposal.pk: {
            "label_class": ranked[0]["label_class"],
            "confidence": ranked[0]["confidence"],
            "preselect": ranked[0]["preselect"],
        }
        for proposal, ranked in zip(pooled, rankings, strict=True)
        if ranked
    }
