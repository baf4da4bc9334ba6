"""Mask proposals: the masks the worker finds on its own on an encoded image (SAM's
"segment everything" from the stored embedding), waiting for a person to accept them.

A proposal is never an annotation: it reaches an export, a tally or a review only once
someone accepts it, which makes an :class:`~webapp.annotations.models.Annotation` of it.
The proposals of an (image, model) pair are replaced as a whole each time they are
generated again; :class:`ProposalRun` is that pair's job row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from webapp.core.jobs import StuckJobQuerySet
from webapp.images.models import Image

log = logging.getLogger(__name__)


class ProposalRunStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class MaskLike(Protocol):
    """What :meth:`ProposalRun.store` reads of each generated mask
    (``inference.everything.MaskProposal``)."""

    rle: dict[str, Any]
    area: int
    bbox: list[int]
    predicted_iou: float
    stability: float
    point: tuple[float, float]


class ProposalRunQuerySet(StuckJobQuerySet):
    def failure_fields(self, attempts: int) -> dict[str, Any]:
        return {
            "error": f"The worker stopped {attempts} times while proposing masks for this "
            "image; ask for them again."
        }

    def outcome_fields(self) -> dict[str, Any]:
        return {"error": ""}


class ProposalRun(models.Model):
    """The job that proposes masks for one image with one model (one row per pair).

    ``params``: the parameters asked for, as overrides of
    ``inference.everything.EverythingParams``' defaults (``{}``: the defaults), so a run
    done with the same ``params`` is not done again. ``attempts``, ``retried_at_attempt``,
    ``heartbeat_at`` and ``finished_at`` as for every job (webapp.core.jobs): claimed with
    a conditional update, swept when its worker died.
    """

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="proposal_runs")
    model = models.CharField(max_length=100)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=ProposalRunStatus.choices, default=ProposalRunStatus.PENDING
    )
    error = models.TextField(blank=True)
    proposal_count = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    retried_at_attempt = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Seconds the last generation took on the worker (from the embedding to the masks).
    seconds = models.FloatField(null=True, blank=True)

    objects = ProposalRunQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "model"], name="one_proposal_run_per_model")
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"proposals of {self.image_id} with {self.model}: {self.status}"

    @classmethod
    def request(cls, image: Image, params: dict[str, Any]) -> tuple[ProposalRun, bool]:
        """Ask for proposals of ``image`` with its project's model and ``params``: (the
        run, True when the caller must queue its task once committed).

        A run pending or running with the same ``params`` is not asked for twice, and one
        done with them is not done again; a failed one, or one with other parameters, goes
        back to pending as a new attempt (conditional updates, so two requests at once
        queue it once).
        """
        run, created = cls.objects.get_or_create(
            image=image, model=image.project.model, defaults={"params": params}
        )
        if created:
            return run, True
        if run.params == params and run.status != ProposalRunStatus.FAILED:
            return run, False
        if run.status == ProposalRunStatus.RUNNING:
            # Its worker stores what it makes with the old parameters; asked again after.
            return run, False
        moved = cls.objects.filter(
            pk=run.pk, status=run.status, heartbeat_at=run.heartbeat_at
        ).update(
            status=ProposalRunStatus.PENDING,
            params=params,
            error="",
            finished_at=None,
            heartbeat_at=timezone.now(),
            retried_at_attempt=F("attempts"),
        )
        run.refresh_from_db()
        return run, bool(moved)

    def claim(self) -> bool:
        """Move pending -> running if nobody else did; True when this caller won. A
        conditional UPDATE, so a duplicate or re-delivered task does nothing."""
        now = timezone.now()
        claimed = ProposalRun.objects.filter(pk=self.pk, status=ProposalRunStatus.PENDING).update(
            status=ProposalRunStatus.RUNNING, attempts=F("attempts") + 1, heartbeat_at=now
        )
        if claimed:
            self.status, self.heartbeat_at = ProposalRunStatus.RUNNING, now
            self.refresh_from_db(fields=["attempts"])
        return bool(claimed)

    def _held(self) -> models.QuerySet[ProposalRun]:
        """This row, only while this attempt still holds it (not deleted with its image,
        not given by the sweep to a newer attempt)."""
        return ProposalRun.objects.filter(
            pk=self.pk, status=ProposalRunStatus.RUNNING, attempts=self.attempts
        )

    def beat(self) -> bool:
        """Write the heartbeat while the generation runs (webapp.proposals.heartbeat);
        False when this attempt no longer holds the run."""
        return bool(self._held().update(heartbeat_at=timezone.now()))

    def wait_for_embedding(self) -> bool:
        """Give the claim back, uncounted, while the image is not encoded yet: the
        encoding task queues this run again once its embedding is stored."""
        return bool(
            self._held().update(
                status=ProposalRunStatus.PENDING,
                attempts=F("attempts") - 1,
                heartbeat_at=timezone.now(),
            )
        )

    def fail(self, reason: str) -> bool:
        """Store the failure and its reason if this attempt still holds the run."""
        return bool(
            self._held().update(
                status=ProposalRunStatus.FAILED, error=reason, finished_at=timezone.now()
            )
        )

    def store(
        self,
        masks: Sequence[MaskLike],
        made_with: dict[str, Any],
        seconds: float,
        features: Sequence[bytes | None] | None = None,
    ) -> bool:
        """Replace the image's proposals for this model by ``masks`` and mark the run
        done, in one short transaction, if this attempt still holds it; False (nothing
        stored) when it does not: the image was deleted, or the sweep gave the run to a
        newer attempt. ``made_with``: the full parameters the masks were made with;
        ``features``: each mask's pooled feature (256 float16 bytes) or None."""
        if features is None:
            features = [None] * len(masks)
        rows = [
            Proposal(
                image_id=self.image_id,
                model=self.model,
                params=made_with,
                rle=mask.rle,
                bbox=[int(v) for v in mask.bbox],
                area=int(mask.area),
                predicted_iou=float(mask.predicted_iou),
                stability=float(mask.stability),
                point=[float(mask.point[0]), float(mask.point[1])],
                feature=feature,
            )
            for mask, feature in zip(masks, features, strict=True)
        ]
        with transaction.atomic():
            # Locked (on PostgreSQL) so that the image's deletion or the sweep cannot
            # slip in between the check and the writes.
            if not self._held().select_for_update().exists():
                return False
            Proposal.objects.filter(image_id=self.image_id, model=self.model).delete()
            Proposal.objects.bulk_create(rows)
            self._held().update(
                status=ProposalRunStatus.DONE,
                error="",
                proposal_count=len(rows),
                seconds=seconds,
                finished_at=timezone.now(),
            )
        return True


class ProposalQuerySet(models.QuerySet["Proposal"]):
    def of_image(self, image: Image) -> ProposalQuerySet:
        """The image's proposals for its project's model, most confident first."""
        return self.filter(image=image, model=image.project.model).order_by("-predicted_iou", "id")


class Proposal(models.Model):
    """One proposed mask on one image. ``rle``: compressed COCO RLE at the image's size,
    ``{"size": [height, width], "counts": str}`` (column-major, as annotations);
    ``bbox`` [x, y, width, height] and ``point`` [x, y] (the grid point that made it) in
    original-image pixels; ``predicted_iou`` SAM's own score of the mask and
    ``stability`` its IoU under a shifted threshold, both 0..1. ``feature``: 256
    float16 values, the embedding pooled under the mask (for class suggestions), or null.
    """

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="proposals")
    model = models.CharField(max_length=100)
    params = models.JSONField(default=dict)
    rle = models.JSONField()
    bbox = models.JSONField()
    area = models.PositiveIntegerField()
    predicted_iou = models.FloatField()
    stability = models.FloatField()
    point = models.JSONField()
    feature = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProposalQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["image", "model"])]

    def __str__(self) -> str:
        return f"proposal {self.pk} on {self.image_id}"
