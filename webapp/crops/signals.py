"""A crop embedding's file goes with its row, however the row is deleted: on its own, or
with its image (``Image.delete_with_files``, a project's deletion), through the cascade."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from webapp.crops.models import CropEmbedding


@receiver(post_delete, sender=CropEmbedding, dispatch_uid="crops.delete_crop_file")
def delete_crop_file(sender: type[CropEmbedding], instance: CropEmbedding, **kwargs: Any) -> None:
    """Deletes the row's file once the deletion is committed (never if it rolls back)."""
    if not instance.file:
        return
    storage, name = instance.file.storage, instance.file.name
    transaction.on_commit(lambda: storage.delete(name))
