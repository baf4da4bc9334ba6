"""Celery tasks of the crops app: encoding a crop of a large image, the sweep for crops a
lost message or a dead worker left behind, and the one for crops nobody uses any more.

Crops go on their own queue (``settings.CELERY_CROP_QUEUE``), so that a person waiting
at the screen for one does not wait behind the bulk encoding of uploads: a worker that
consumes it alone (``-Q crops``) takes each at once, and one that consumes it among
others (``-Q crops,encode,proposals,celery``) takes turns between the queues, so a crop waits for
at most the task in progress and one of each other queue, never for the backlog.
A task takes a crop id, re-reads the row and claims it with a conditional update, so a
duplicate or re-delivered message does nothing.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from webapp.crops.models import CropEmbedding
from webapp.images.availability import weights_problem

if TYPE_CHECKING:
    from PIL import Image as PILImage

log = logging.getLogger(__name__)

TRANSIENT_ERRORS = (OSError, InterfaceError, OperationalError)


def crop_pixels(crop: CropEmbedding) -> PILImage.Image:
    """The crop's pixels: the image the annotator shows (its display copy when there is
    one), decoded whole, cut to the box; an 8-bit RGB Pillow image of the box's size."""
    from inference.images import load_image

    picture = load_image(crop.image.read_shown())
    box = crop.box
    return picture.crop((box.x0, box.y0, box.x1, box.y1))


@shared_task(
    name="webapp.crops.tasks.encode_crop",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=4,
)
def encode_crop(crop_id: int) -> None:
    """Encode crop ``crop_id`` with its model and store its embedding, if it is still
    pending; nothing when another worker claimed it, it is done, or it is gone. An
    unreadable image or missing weights fail the crop with the reason."""
    crop = CropEmbedding.objects.select_related("image__project").filter(pk=crop_id).first()
    if crop is None:
        log.warning("crop %s is gone; nothing to encode", crop_id)
        return
    if not crop.claim():
        log.info("crop %s is %s; not encoding it again", crop_id, crop.status)
        return
    problem = weights_problem(crop.model)
    if problem is not None:
        crop.fail(problem)
        log.warning("cannot encode crop %s: %s", crop_id, problem)
        return
    from export_onnx.encoder import encode
    from inference.images import ImageRejected

    started = time.monotonic()
    try:
        pixels = crop_pixels(crop)
        embedding = encode(
            [pixels],
            crop.model,
            backend=settings.SAMLABEL_ENCODER_BACKEND,
            batch_size=1,
        )[0]
    except FileNotFoundError:
        crop.fail("the image's file is missing from storage")
        return
    except ImageRejected as exc:
        crop.fail(str(exc))
        return
    except TRANSIENT_ERRORS:
        crop.release()
        raise
    if crop.store(embedding, time.monotonic() - started):
        log.info("encoded crop %s of image %s in %.1f s", crop_id, crop.image_id, crop.seconds)
    else:
        log.warning("crop %s was deleted or taken over while it was encoded", crop_id)


def queue_crop(crop_id: int) -> None:
    """Ask a worker to encode the crop. A broker that is down is logged, not raised: the
    crop is stored and pending, and the sweep queues it again later."""
    try:
        encode_crop.delay(crop_id)
    except Exception:
        log.exception("could not queue crop %s; the sweep will queue it again", crop_id)


@shared_task(name="webapp.crops.tasks.sweep_stuck_crops")
def sweep_stuck_crops() -> list[int]:
    """Queue again the crops pending or running for longer than
    SAMLABEL_STUCK_AFTER_SECONDS (a lost message, a killed worker), and fail those whose
    worker died under them three times; the ids queued again."""
    requeued, failed = CropEmbedding.objects.requeue_stuck()
    if requeued:
        log.warning("queued %d stuck crop(s) again: %s", len(requeued), requeued)
    if failed:
        log.warning("failed %d crop(s) whose worker kept dying: %s", len(failed), failed)
    for crop_id in requeued:
        queue_crop(crop_id)
    return requeued


@shared_task(name="webapp.crops.tasks.delete_unused_crops")
def delete_unused_crops() -> int:
    """Delete the finished crops nobody used for SAMLABEL_CROP_TTL_DAYS, with their
    ``.npy`` files (removed once the deletion is committed: webapp/crops/signals.py); how
    many. Nothing when SAMLABEL_CROP_TTL_DAYS is 0. Asking for one again makes it anew."""
    deleted, _ = CropEmbedding.objects.unused().delete()
    if deleted:
        log.info("Deleted %d unused crop(s) and their files.", deleted)
    return deleted
