"""Celery tasks of the images app: encoding images with SAM, and re-queuing stuck ones.

The database is the source of truth: a task takes an image id, re-reads the row and
claims it with a conditional update, so duplicate or re-delivered messages do nothing.
torch and the model are imported inside the task, never when Django starts.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from export_onnx.build import build_onnx
from webapp.images.availability import weights_problem
from webapp.images.models import DecoderBuild, EncodingStatus, Image, ImageEmbedding
from webapp.proposals.tasks import after_encoding

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

# Worth another try later: storage or database briefly unreachable. An unreadable
# image is not among them: it fails at once with its reason.
TRANSIENT_ERRORS = (OSError, InterfaceError, OperationalError)
# Pauses before storing a finished embedding again when the database was busy (SQLite's
# "database is locked"): about 6 s in all, far less than encoding the image again.
STORE_RETRY_DELAYS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2)


def store_embedding(image: Image, model: str, embedding: np.ndarray) -> ImageEmbedding | None:
    """:meth:`ImageEmbedding.store`, tried again after a short pause while the database
    answers ``OperationalError``: the embedding is already computed, and a retry of the
    whole task would encode the image again. The last error is raised."""
    for delay in STORE_RETRY_DELAYS:
        try:
            return ImageEmbedding.store(image, model, embedding)
        except OperationalError as exc:
            log.warning(
                "storing the embedding of image %s failed (%s); again in %.1f s",
                image.pk,
                exc,
                delay,
            )
            time.sleep(delay)
    return ImageEmbedding.store(image, model, embedding)


def _on_gpu() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _claim_more(first: Image, limit: int) -> list[Image]:
    """Claim up to ``limit`` other pending images of ``first``'s model, oldest first.
    Their own queued tasks will find them claimed and do nothing."""
    candidates = (
        Image.objects.pending()
        .for_model(first.project.model)
        .exclude(pk=first.pk)
        .select_related("project")
        .order_by("id")[:limit]
    )
    return [image for image in candidates if image.claim_for_encoding()]


def encode_claimed(images: list[Image], model: str) -> None:
    """Encode images this worker has claimed, in one batch, and store their embeddings.

    An image that cannot be read is marked failed with the reason; the others go on.
    When the model's weights are not on this machine, every image fails at once with that
    reason: nothing is downloaded here, and no retry could help until someone fetches
    them; the sweep then queues the images again.
    """
    problem = weights_problem(model)
    if problem is not None:
        reason = f"{problem} The image is encoded once they are there."
        for image in images:
            image.fail_for_want_of_weights(reason)
        log.warning("cannot encode images %s: %s", [i.pk for i in images], problem)
        return
    from export_onnx.encoder import encode
    from inference.images import ImageRejected, load_image_reduced

    readable = []
    pictures = []
    for image in images:
        try:
            # The pixels the annotator shows (the display copy when there is one),
            # decoded only as far as the model's 1024-pixel input needs (a large JPEG at
            # a half, a quarter or an eighth of its size), which is most of the cost.
            pictures.append(load_image_reduced(image.read_shown()))
        except FileNotFoundError:
            image.set_status(EncodingStatus.FAILED, "the original file is missing from storage")
            continue
        except ImageRejected as exc:
            image.set_status(EncodingStatus.FAILED, str(exc).removeprefix("the upload: "))
            continue
        readable.append(image)
    if not readable:
        return
    embeddings = encode(
        pictures, model, backend=settings.SAMLABEL_ENCODER_BACKEND, batch_size=len(pictures)
    )
    for image, embedding in zip(readable, embeddings, strict=True):
        if store_embedding(image, model, embedding) is None:
            log.warning("image %s was deleted while it was encoded; nothing stored", image.pk)
        else:
            log.info("encoded image %s with %s", image.pk, model)
            transaction.on_commit(lambda image_id=image.pk: after_encoding(image_id))


@shared_task(
    name="webapp.images.tasks.encode_image",
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
)
def encode_image(image_id: int) -> None:
    """Compute and store SAM's embedding of image ``image_id`` (and, on a GPU, of up to
    SAMLABEL_ENCODE_BATCH_SIZE - 1 other pending images of the same model)."""
    image = Image.objects.select_related("project").filter(pk=image_id).first()
    if image is None:
        log.warning("image %s is gone; nothing to encode", image_id)
        return
    if not image.claim_for_encoding():
        log.info("image %s is %s; not encoding it again", image_id, image.status)
        return
    batch = [image]
    try:
        if settings.SAMLABEL_ENCODE_BATCH_SIZE > 1 and _on_gpu():
            batch += _claim_more(image, settings.SAMLABEL_ENCODE_BATCH_SIZE - 1)
        encode_claimed(batch, image.project.model)
    except TRANSIENT_ERRORS:
        # Give the claims back so the retry (this image) and fresh tasks (the others)
        # can claim them again. If the database is what failed, this may fail too and
        # the rows stay "encoding" until the sweep finds them stuck.
        for claimed in batch:
            if claimed.release_claim() and claimed.pk != image.pk:
                queue_encoding(claimed.pk)
        raise


def queue_encoding(image_id: int) -> None:
    """Ask a worker to encode the image. A broker that is down is logged, not raised:
    the image is stored and pending, and the sweep queues it again later."""
    try:
        encode_image.delay(image_id)
    except Exception:
        log.exception(
            "could not queue image %s for encoding; the sweep will queue it again", image_id
        )


@shared_task(name="webapp.images.tasks.sweep_stuck_images")
def sweep_stuck_images() -> list[int]:
    """Queue again the images pending or encoding for longer than
    SAMLABEL_STUCK_AFTER_SECONDS (a lost message, a killed worker), and those that failed
    for want of their model's weights once the weights are here; their ids."""
    requeued = Image.objects.requeue_stuck()
    if requeued:
        log.warning("queued %d stuck image(s) again: %s", len(requeued), requeued)
    fetched = Image.objects.requeue_awaiting_weights(lambda m: weights_problem(m) is None)
    if fetched:
        log.info("the weights of %d image(s) are here now; queued: %s", len(fetched), fetched)
    for image_id in requeued + fetched:
        queue_encoding(image_id)
    return requeued + fetched


@shared_task(name="webapp.images.tasks.build_decoder")
def build_decoder(model: str) -> None:
    """Build ``model``'s ONNX files (the browser's decoders and the image encoder) into
    ``inference.registry.onnx_dir(model)``, where the web app reads them.

    Runs only if this call claims the model's queued :class:`DecoderBuild`, so a duplicate
    or re-delivered message does nothing and one model is built once at a time. Never
    downloads weights: without them the build fails at once with the reason.
    """
    build = DecoderBuild.objects.filter(model=model).first()
    if build is None:
        log.warning("no build of %s was asked for; nothing to build", model)
        return
    if not build.claim():
        log.info("the build of %s is %s; not starting another", model, build.status)
        return
    problem = weights_problem(model)
    if problem is not None:
        build.fail(problem)
        log.warning("cannot build the ONNX files of %s: %s", model, problem)
        return
    try:
        result = build_onnx(model)
    except Exception as exc:
        log.exception("building the ONNX files of %s failed", model)
        build.fail(f"{type(exc).__name__}: {exc}")
        return
    build.finish()
    log.info(
        "ONNX files of %s %s in %s", model, "verified" if result.reused else "built", result.out_dir
    )


def queue_decoder_build(model: str) -> None:
    """Send :func:`build_decoder` for ``model``; a broker that is down is logged, and the
    build is asked for again after ``DecoderBuild.RETRY_AFTER``."""
    try:
        build_decoder.delay(model)
    except Exception:
        log.exception("could not queue the build of %s's ONNX files", model)
