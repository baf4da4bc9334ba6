"""``python manage.py recount_tallies [PROJECT ...]``: rebuild the kept counts of these
projects (all when none is named) from their tables: each image's annotation count, the
annotation tallies per label class and author, and the workflow figures per member and
day (from the activity log). Run it after changing annotations in bulk around the app
(``QuerySet.update`` or ``delete``, raw SQL)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from webapp.projects.models import Project
from webapp.workflow.recount import recount


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("projects", nargs="*", type=int, metavar="PROJECT")

    def handle(self, *args: Any, projects: list[int], **options: Any) -> None:
        chosen = Project.objects.order_by("pk")
        if projects:
            chosen = chosen.filter(pk__in=projects)
            missing = sorted(set(projects) - set(chosen.values_list("pk", flat=True)))
            if missing:
                raise CommandError(f"No project with the id {', '.join(map(str, missing))}.")
        for project in chosen:
            figures = recount(project)
            if options["verbosity"]:
                self.stdout.write(
                    f"Project {project.pk} ({project.name}): {figures['annotations']} "
                    f"annotations in {figures['tallies']} tallies, {figures['days']} "
                    "member-days of workflow figures."
                )
