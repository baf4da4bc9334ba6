"""Every image gets its workflow row when it is created, whichever way it arrives
(an upload, an import, the admin); its annotations leave the project's tallies when it
is deleted, whichever way it goes (one image, a selection, the project, the admin)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from webapp.images.models import Image
from webapp.workflow.models import WorkItem
from webapp.workflow.recount import image_deleted


@receiver(post_save, sender=Image, dispatch_uid="workflow-item-for-new-image")
def create_work_item(sender: type[Image], instance: Image, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        WorkItem.objects.get_or_create(image=instance, defaults={"project_id": instance.project_id})


@receiver(pre_delete, sender=Image, dispatch_uid="workflow-tallies-of-deleted-image")
def forget_annotations(sender: type[Image], instance: Image, **kwargs: Any) -> None:
    # Sent inside the deletion's transaction, before the annotations' cascade.
    image_deleted(instance)
