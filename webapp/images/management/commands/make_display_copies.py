"""``manage.py make_display_copies [PROJECT ...]``: give the images stored before display
copies existed the upright PNG that the annotator shows (a TIFF, or a PNG, WebP, GIF or
BMP that its EXIF orientation turns). Their embeddings need no change: the worker always
encoded the picture upright. Safe to run again: images that have a copy, or need none,
are left alone."""

from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand

from inference.images import ImageRejected
from webapp.images.models import Image
from webapp.images.uploads import prepare_image


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("projects", nargs="*", type=int, help="project ids (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        images = Image.objects.filter(display="").exclude(file__iendswith=".jpg")
        if options["projects"]:
            images = images.filter(project_id__in=options["projects"])
        made = checked = 0
        for image in images.only("id", "file", "display", "project_id").iterator(chunk_size=200):
            checked += 1
            try:
                prepared = prepare_image(image.read_original())
            except (ImageRejected, OSError) as exc:
                self.stderr.write(f"image {image.pk}: {exc}")
                continue
            if prepared.display is None:
                continue
            image.display.save("display.png", ContentFile(prepared.display), save=False)
            if Image.objects.filter(pk=image.pk, display="").update(display=image.display.name):
                made += 1
            else:  # given a copy meanwhile (or deleted): keep no second file
                image.display.storage.delete(image.display.name)
        self.stdout.write(f"Checked {checked} images; made {made} display copies.")
