"""Celery tasks of the proposals app: proposing masks for an encoded image, and the
sweep for runs a lost message or a dead worker left behind.

A task takes an image id, re-reads its run and claims it with a conditional update, so a
duplicate or re-delivered message does nothing. torch, the model and the generator are
imported inside the task, never when Django starts; the model is loaded once per worker
process (``inference.model.load_sam`` keeps it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction

from webapp.images.availability import weights_problem
from webapp.images.models import EncodingStatus, Image
from webapp.proposals.heartbeat import Heartbeat
from webapp.proposals.models import ProposalRun, ProposalRunStatus

log = logging.getLogger(__name__)


def requested_params() -> dict[str, Any]:
    """The generation parameters this server asks for (SAMLABEL_PROPOSAL_PARAMS: overrides
    of ``inference.everything.EverythingParams``' defaults; ``{}`` for the defaults)."""
    return dict(settings.SAMLABEL_PROPOSAL_PARAMS)


def generate_masks(image: Image, run: ProposalRun) -> tuple[list[Any], dict[str, Any]]:
    """Run SAM's automatic mask generation on the image's stored embedding: (the masks,
    most confident first, and the full parameters they were made with)."""
    from inference.everything import EverythingParams, generate
    from inference.model import load_sam

    stored = image.embedding_for(run.model)
    assert stored is not None  # checked by the caller
    embedding = stored.load()
    params = EverythingParams.from_dict(run.params)
    masks = generate(
        embedding,
        image_size=(image.height, image.width),
        params=params,
        model=load_sam(run.model),
    )
    return list(masks), params.as_dict()


def pooled_features(image: Image, masks: list[Any]) -> list[bytes | None]:
    """Each mask's pooled feature (256 float16 bytes) for class suggestions, when that
    app is installed; None for each otherwise. The embedding is read once."""
    try:
        from webapp.suggestions import feature_for_mask
        from webapp.suggestions.features import load_embedding
        from webapp.suggestions.models import feature_bytes
    except ImportError:
        return [None] * len(masks)
    embedding = load_embedding(image)
    if embedding is None:
        return [None] * len(masks)
    vectors = [feature_for_mask(image, mask.rle, embedding) for mask in masks]
    return [None if v is None else feature_bytes(v) for v in vectors]


# Acknowledged late, as encoding is: a broker that keeps unacknowledged messages (Redis)
# gives the run to another worker when this one dies under it; otherwise the sweep
# queues it again.
@shared_task(name="webapp.proposals.tasks.generate_proposals", acks_late=True)
def generate_proposals(image_id: int) -> None:
    """Propose masks for image ``image_id`` with its project's model, if its run is still
    pending; nothing when another worker claimed it, it is done, or the image is gone. A
    failure is stored on the run for the user."""
    image = Image.objects.select_related("project").filter(pk=image_id).first()
    if image is None:
        log.warning("image %s is gone; no proposals to make", image_id)
        return
    run = ProposalRun.objects.filter(image=image, model=image.project.model).first()
    if run is None:
        log.warning("no proposals were asked for image %s; nothing to do", image_id)
        return
    if not run.claim():
        log.info("the proposals of image %s are %s; not making them again", image_id, run.status)
        return
    if image.status != EncodingStatus.READY or image.embedding_for(run.model) is None:
        if image.status == EncodingStatus.FAILED:
            run.fail(f"The image could not be encoded: {image.failure_reason}")
        else:
            run.wait_for_embedding()
            log.info("image %s is not encoded yet; its proposals wait for it", image_id)
        return
    problem = weights_problem(run.model)
    if problem is not None:
        run.fail(problem)
        return
    started = time.monotonic()
    try:
        # The generation reports no progress and may outlast SAMLABEL_STUCK_AFTER_SECONDS:
        # the heartbeat tells the sweep that this worker is still at it.
        with Heartbeat(run.beat):
            masks, made_with = generate_masks(image, run)
            features = pooled_features(image, masks)
    except Exception as exc:
        log.exception("proposing masks for image %s failed", image_id)
        run.fail(f"{type(exc).__name__}: {exc}")
        return
    seconds = time.monotonic() - started
    if run.store(masks, made_with, seconds, features):
        log.info("%d proposals for image %s in %.2f s", len(masks), image_id, seconds)
    else:
        log.warning("image %s was deleted or its run taken over; nothing stored", image_id)


def queue_proposals(image_id: int) -> None:
    """Ask a worker to propose masks for the image. A broker that is down is logged, not
    raised: the run is stored and pending, and the sweep queues it again later."""
    try:
        generate_proposals.delay(image_id)
    except Exception:
        log.exception("could not queue the proposals of image %s; the sweep will", image_id)


def request_proposals(images: Iterable[Image]) -> tuple[list[int], list[int]]:
    """Ask for proposals of ``images`` (with their project's model and this server's
    parameters), queued once committed: (ids queued, ids already done or under way)."""
    params = requested_params()
    queued: list[int] = []
    unchanged: list[int] = []
    for image in images:
        _, must_queue = ProposalRun.request(image, params)
        (queued if must_queue else unchanged).append(image.pk)
    for image_id in queued:
        transaction.on_commit(lambda image_id=image_id: queue_proposals(image_id))
    return queued, unchanged


def after_encoding(image_id: int) -> None:
    """Called once an image's embedding is stored: propose masks when its project has
    proposals on, or when someone asked for them before the image was encoded. Never
    raises: the embedding is stored whatever happens here."""
    try:
        image = Image.objects.select_related("project").filter(pk=image_id).first()
        if image is None:
            return
        if image.project.proposals_enabled and request_proposals([image])[0]:
            return
        if ProposalRun.objects.filter(
            image=image, model=image.project.model, status=ProposalRunStatus.PENDING
        ).exists():
            queue_proposals(image_id)
    except Exception:
        log.exception("could not ask for the proposals of image %s", image_id)


@shared_task(name="webapp.proposals.tasks.sweep_stuck_proposal_runs")
def sweep_stuck_proposal_runs() -> list[int]:
    """Queue again the runs pending, or running without a sign of life, for longer than
    SAMLABEL_STUCK_AFTER_SECONDS (a lost message, a killed worker); fail those whose
    worker stopped too often. The image ids queued again."""
    requeued, failed = ProposalRun.objects.requeue_stuck()
    image_ids = list(ProposalRun.objects.filter(pk__in=requeued).values_list("image_id", flat=True))
    for image_id in image_ids:
        queue_proposals(image_id)
    if requeued or failed:
        log.warning("Stuck proposal runs: queued again %s, failed %s.", requeued, failed)
    return image_ids
