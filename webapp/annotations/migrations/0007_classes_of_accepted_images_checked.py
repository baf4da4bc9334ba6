"""Annotations whose class was suggested, on images accepted before acceptance itself
cleared the mark (``Annotation.classes_checked``), count as checked from now on too."""

from typing import Any

from django.db import migrations


def clear_on_accepted_images(apps: Any, schema_editor: Any) -> None:
    annotation = apps.get_model("annotations", "Annotation")
    annotation.objects.filter(class_suggested=True, image__work__state="accepted").update(
        class_suggested=False
    )


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0006_annotation_class_suggested"),
        ("workflow", "0005_backfill_counts"),
    ]

    operations = [
        migrations.RunPython(clear_on_accepted_images, migrations.RunPython.noop),
    ]
