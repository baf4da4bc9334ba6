"""Every image gets its workflow row when it is created, whichever way it arrives
(an upload, an import, the admin)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from webapp.images.models import Image
from webapp.workflow.models import WorkItem


@receiver(post_save, sender=Image, dispatch_uid="workflow-item-for-new-image")
def create_work_item(sender: type[Image], instance: Image, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        WorkItem.objects.get_or_create(image=instance, defaults={"project_id": instance.project_id})
