"""The pooled feature of each annotation's mask, for class suggestions."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from django.db import IntegrityError, models, transaction

from webapp.annotations.models import Annotation
from webapp.projects.models import Project

FEATURE_DIM = 256
FEATURE_DTYPE = "<f2"  # as stored: 256 float16, 512 bytes


def feature_bytes(vector: np.ndarray) -> bytes:
    """(256,) float -> the 512 stored bytes (little-endian float16). For
    :class:`AnnotationFeature` and proposals' ``feature`` alike."""
    array = np.asarray(vector, dtype=np.float32).reshape(FEATURE_DIM)
    return array.astype(FEATURE_DTYPE).tobytes()


def feature_vector(stored: bytes | memoryview) -> np.ndarray:
    """The stored bytes -> (256,) float32."""
    return np.frombuffer(bytes(stored), dtype=FEATURE_DTYPE).astype(np.float32)


def mask_digest(rle: Any) -> str:
    """A short fingerprint of an annotation's mask (its RLE's size and counts), so a
    feature can say which mask it was pooled from."""
    text = f"{rle.get('size')}:{rle.get('counts')}" if isinstance(rle, dict) else repr(rle)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


class AnnotationFeature(models.Model):
    """SAM's embedding (of ``model``) pooled under one annotation's mask:
    ``vector`` 256 float16, unit length (see :func:`inference.pooling.pool_under_mask`).
    ``mask_sha1`` is :func:`mask_digest` of the mask it was pooled from: when the mask
    changes, the feature is computed again."""

    annotation = models.OneToOneField(Annotation, on_delete=models.CASCADE, related_name="feature")
    # The annotation's project, kept here so a project's features are read from one index.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=100)
    vector = models.BinaryField()
    mask_sha1 = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["project", "model"])]

    def __str__(self) -> str:
        return f"feature of annotation {self.annotation_id}"

    @classmethod
    def store(cls, annotation: Annotation, model: str, vector: np.ndarray, digest: str) -> bool:
        """Keep ``vector``, pooled from the mask whose :func:`mask_digest` is ``digest``,
        as the annotation's feature; True when stored. Nothing is stored when the
        annotation is gone or its mask changed since (a newer task pools that one), so
        a slow task never overwrites a newer feature with an older one."""
        try:
            with transaction.atomic():
                current = (
                    Annotation.objects.select_for_update(of=("self",))
                    .filter(pk=annotation.pk)
                    .values_list("rle", "image__project_id")
                    .first()
                )
                if current is None or mask_digest(current[0]) != digest:
                    return False
                cls.objects.update_or_create(
                    annotation_id=annotation.pk,
                    defaults={
                        "project_id": current[1],
                        "model": model,
                        "vector": feature_bytes(vector),
                        "mask_sha1": digest,
                    },
                )
        except IntegrityError:  # deleted, or stored by another worker, meanwhile
            return False
        return True

    def is_current(self, annotation: Annotation, model: str) -> bool:
        """Pooled with ``model`` from the annotation's mask as it is now."""
        return self.model == model and self.mask_sha1 == mask_digest(annotation.rle)
