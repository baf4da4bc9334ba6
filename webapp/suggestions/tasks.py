"""Celery tasks of the suggestions app: pooling annotations' features on the worker.

Thin and idempotent: a task takes an id, re-reads the rows, and pools only the
annotations whose feature is missing or was pooled from another mask, so a duplicate
message does nothing. On the encode queue, beside the embeddings it reads.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.suggestions.features import pool_annotations

log = logging.getLogger(__name__)


@shared_task(name="webapp.suggestions.tasks.pool_annotation")
def pool_annotation(annotation_id: int) -> None:
    """Pool the image's embedding under annotation ``annotation_id``'s mask, unless its
    feature is already current."""
    annotation = (
        Annotation.objects.select_related("image__project", "feature")
        .filter(pk=annotation_id)
        .first()
    )
    if annotation is None:
        log.warning("annotation %s is gone; no feature to pool", annotation_id)
        return
    pool_annotations(annotation.image, [annotation])


@shared_task(name="webapp.suggestions.tasks.pool_image")
def pool_image(image_id: int) -> None:
    """Pool the features of every annotation of image ``image_id`` that lacks a current
    one (after the image is encoded, or for a backfill)."""
    image = Image.objects.select_related("project").filter(pk=image_id).first()
    if image is None:
        log.warning("image %s is gone; no features to pool", image_id)
        return
    pool_annotations(image, image.annotations.select_related("feature"))


def _send(task: object, object_id: int) -> None:
    try:
        task.delay(object_id)  # type: ignore[attr-defined]
    except Exception:
        # The annotation is saved whatever happens here; the backfill command pools
        # what a lost message left out.
        log.exception("could not queue %s(%s)", getattr(task, "name", task), object_id)


def pool_after_commit(annotation: Annotation) -> None:
    """Queue :func:`pool_annotation` once the current transaction commits."""
    transaction.on_commit(lambda pk=annotation.pk: _send(pool_annotation, pk))


def pool_image_after_commit(image_id: int) -> None:
    """Queue :func:`pool_image` once the current transaction commits."""
    transaction.on_commit(lambda: _send(pool_image, image_id))
