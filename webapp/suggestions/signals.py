"""When an image's embedding is stored, pool its annotations (those made before it was
encoded: imported ones, say). Annotations saved later are pooled from the annotation
services (:func:`webapp.suggestions.tasks.pool_after_commit`)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from webapp.annotations.models import Annotation
from webapp.images.models import ImageEmbedding
from webapp.suggestions.tasks import pool_image_after_commit


@receiver(post_save, sender=ImageEmbedding, dispatch_uid="suggestions-pool-encoded-image")
def pool_encoded_image(sender: Any, instance: ImageEmbedding, **kwargs: Any) -> None:
    if Annotation.objects.filter(image_id=instance.image_id).exists():
        pool_image_after_commit(instance.image_id)
