"""Pooling an image's stored embedding under masks: for annotations (stored as
:class:`AnnotationFeature`), proposals (their ``feature`` field) and the masks the
annotator asks about."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np

from inference.pooling import pool_under_mask
from webapp.annotations import rle as rle_codec
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.suggestions.models import AnnotationFeature, mask_digest

log = logging.getLogger(__name__)


def load_embedding(image: Image) -> np.ndarray | None:
    """The image's stored embedding for its project's model, (1, 256, 64, 64) float16;
    None when it has none yet (or its file is gone)."""
    stored = image.embedding_for(image.project.model)
    if stored is None:
        return None
    try:
        return stored.load()
    except FileNotFoundError:
        log.warning("the embedding file of image %s is missing", image.pk)
        return None


def feature_for_mask(
    image: Image, rle: dict[str, Any], embedding: np.ndarray | None = None
) -> np.ndarray | None:
    """(256,) float32, unit length: the image's embedding pooled under the mask ``rle``
    (compressed COCO RLE at the image's size). Pass ``embedding`` (from
    :func:`load_embedding`) when pooling many masks of one image, so it is read once.
    None when the image has no embedding yet or the mask is empty; raises
    :class:`~webapp.annotations.rle.InvalidMask` for an RLE that is no mask of this
    image."""
    if embedding is None:
        embedding = load_embedding(image)
        if embedding is None:
            return None
    size = (image.height, image.width)
    if not isinstance(rle, dict) or rle.get("size") != list(size):
        raise rle_codec.InvalidMask(
            f"the mask's size must be the image's, {list(size)} (height, width)"
        )
    mask = rle_codec.decode(rle)
    if not mask.any():
        return None
    return pool_under_mask(embedding, mask, size)


def pool_annotations(image: Image, annotations: Iterable[Annotation]) -> int:
    """Store the feature of each of ``annotations`` (all of ``image``) whose feature is
    missing or was pooled from another mask or model; how many were stored. Nothing
    when the image has no embedding yet: once it is encoded, its annotations are pooled
    (see :mod:`webapp.suggestions.signals`)."""
    model = image.project.model
    todo = [a for a in annotations if not _has_current_feature(a, model)]
    if not todo:
        return 0
    embedding = load_embedding(image)
    if embedding is None:
        log.info("image %s is not encoded yet; its annotations are pooled later", image.pk)
        return 0
    stored = 0
    for annotation in todo:
        vector = feature_for_mask(image, annotation.rle, embedding)
        if vector is not None and AnnotationFeature.store(
            annotation, model, vector, mask_digest(annotation.rle)
        ):
            stored += 1
    return stored


def _has_current_feature(annotation: Annotation, model: str) -> bool:
    try:
        feature = annotation.feature
    except AnnotationFeature.DoesNotExist:
        return False
    return feature.is_current(annotation, model)
