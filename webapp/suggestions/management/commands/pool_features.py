"""``manage.py pool_features [PROJECT ...]``: pool the feature of every annotation that
lacks a current one (made before class suggestions existed, imported in bulk, or whose
message was lost), here rather than on the worker. Each image's embedding is read once.
Safe to run again: current features are left alone; images not encoded yet are skipped
(they are pooled once encoded)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from webapp.images.models import Image
from webapp.suggestions.features import pool_annotations


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("projects", nargs="*", type=int, help="project ids (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        images = Image.objects.annotated().select_related("project")
        if options["projects"]:
            images = images.filter(project_id__in=options["projects"])
        stored = checked = 0
        for image in images.iterator(chunk_size=200):
            checked += 1
            stored += pool_annotations(image, image.annotations.select_related("feature"))
        self.stdout.write(f"Checked the annotations of {checked} images; pooled {stored}.")
