"""Images stored before the workflow existed start as new."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def create_items(apps: Any, schema_editor: Any) -> None:
    Image = apps.get_model("images", "Image")
    WorkItem = apps.get_model("workflow", "WorkItem")
    missing = Image.objects.filter(work__isnull=True).values_list("pk", "project_id")
    batch = []
    for image_id, project_id in missing.iterator(chunk_size=2000):
        batch.append(WorkItem(image_id=image_id, project_id=project_id))
        if len(batch) == 2000:
            WorkItem.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    WorkItem.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("workflow", "0001_initial")]

    operations = [migrations.RunPython(create_items, migrations.RunPython.noop)]
