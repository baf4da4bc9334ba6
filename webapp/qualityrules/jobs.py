"""Starting a whole-project check, for the API and the page alike."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from webapp.projects.models import Project
from webapp.qualityrules.models import ProjectCheck, RuleSetVersion
from webapp.qualityrules.tasks import check_project


def start_project_check(project: Project, user: Any) -> ProjectCheck | None:
    """A new check of every image of ``project`` with the rules in force, queued on the
    worker once the transaction commits; None when the project has no rules."""
    current = RuleSetVersion.current(project)
    if current is None or not current.rules:
        return None
    job = ProjectCheck.objects.create(
        project=project, ruleset_version=current.version, created_by=user
    )
    transaction.on_commit(lambda: check_project.delay(job.pk))
    return job
