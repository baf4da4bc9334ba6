"""``python manage.py export_project PROJECT --format coco --out dataset.zip``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from webapp.exports.exporter import write_export
from webapp.exports.models import ExportFormat, ImageScope, MaskFormat
from webapp.exports.selection import DEFAULT_VAL_FRACTION, ExportError, ExportOptions
from webapp.projects.models import Project


class Command(BaseCommand):
    help = "Write a project's images and annotations as a dataset zip."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", type=int, help="project id")
        parser.add_argument("--format", required=True, choices=ExportFormat.values)
        parser.add_argument("--mask-format", default=MaskFormat.RLE, choices=MaskFormat.values)
        parser.add_argument("--no-images", action="store_true", help="annotations only")
        parser.add_argument("--labels", type=int, nargs="+", help="label class ids to keep")
        parser.add_argument("--images", type=int, nargs="+", help="image ids to keep")
        parser.add_argument(
            "--scope",
            choices=ImageScope.values,
            help="which images: accepted (by review), annotated, or all; by default "
            "accepted where the project's review is on, annotated where it is off",
        )
        parser.add_argument("--all-images", action="store_true", help="the same as --scope all")
        parser.add_argument(
            "--val-fraction",
            type=float,
            default=DEFAULT_VAL_FRACTION,
            help="YOLO: the share of images held out for validation (0: one split)",
        )
        parser.add_argument("--seed", type=int, default=0, help="YOLO: picks the val images")
        parser.add_argument("--out", required=True, help="the zip file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(pk=options["project"]).first()
        if project is None:
            raise CommandError(f"No project with id {options['project']}.")
        try:
            export_options = ExportOptions(
                format=options["format"],
                mask_format=options["mask_format"],
                include_images=not options["no_images"],
                label_classes=options["labels"],
                images=options["images"],
                image_scope=options["scope"]
                or (ImageScope.ALL if options["all_images"] else default_scope(project)),
                val_fraction=options["val_fraction"],
                seed=options["seed"],
            )
            summary = write_export(options["out"], project, export_options)
        except ExportError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Wrote {options['out']}: {summary.images} images, "
            f"{summary.annotations} annotations ({options['format']})."
        )


def default_scope(project: Project) -> str:
    """Accepted images where the project's review is on, annotated ones where it is off."""
    return ImageScope.ACCEPTED if project.review_required else ImageScope.ANNOTATED
