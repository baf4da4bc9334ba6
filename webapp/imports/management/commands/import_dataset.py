"""``python manage.py import_dataset PROJECT FILE --format coco|yolo``: the API's import,
run by an administrator (the images are attributed to nobody)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from webapp.imports.datasets import FORMATS, import_dataset
from webapp.imports.problems import ImportRejected
from webapp.projects.models import Project


class Command(BaseCommand):
    help = "Import a COCO (.json or .zip) or YOLO (.zip) dataset into a project; all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", type=int, help="the project's id")
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=FORMATS, default="coco")
        parser.add_argument(
            "--no-create-classes",
            action="store_true",
            help="refuse classes the project lacks instead of creating them",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(pk=options["project"]).first()
        if project is None:
            raise CommandError(f"no project with id {options['project']}")
        path: Path = options["file"]
        try:
            with path.open("rb") as source:
                counts = import_dataset(
                    project,
                    source,
                    path.name,
                    options["format"],
                    user=None,
                    create_missing_classes=not options["no_create_classes"],
                )
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        except ImportRejected as exc:
            for problem in exc.problems:
                self.stderr.write(json.dumps(problem.as_json()))
            raise CommandError(f"nothing imported: {len(exc.problems)} problem(s)") from None
        self.stdout.write(json.dumps(counts.as_json()))
