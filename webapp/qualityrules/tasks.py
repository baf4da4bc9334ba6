"""The whole-project check on the worker: takes a :class:`ProjectCheck` id, claims it with
one conditional update (a second delivery does nothing), checks the project's images in
batches (one sandbox run per batch when there are custom rules), stores a
:class:`RuleCheck` per image and keeps the counts on the job's row as it goes."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from webapp.images.models import Image
from webapp.qualityrules.checking import check, count, image_data, images_with_annotations
from webapp.qualityrules.models import (
    CheckKind,
    ProjectCheck,
    ProjectCheckState,
    RuleCheck,
    RuleSetVersion,
)
from webapp.qualityrules.sandbox import SandboxUnavailable

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def check_project(check_id: int) -> None:
    claimed = ProjectCheck.objects.filter(pk=check_id, state=ProjectCheckState.QUEUED).update(
        state=ProjectCheckState.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        if not ProjectCheck.objects.filter(pk=check_id).exists():
            log.warning("project check %s is gone", check_id)
        return
    job = ProjectCheck.objects.get(pk=check_id)
    ruleset = RuleSetVersion.objects.get(project_id=job.project_id, version=job.ruleset_version)
    ids = list(
        Image.objects.filter(project_id=job.project_id).order_by("id").values_list("pk", flat=True)
    )
    ProjectCheck.objects.filter(pk=job.pk).update(images_total=len(ids))
    batch = settings.SAMLABEL_RULES_BATCH
    try:
        for first in range(0, len(ids), batch):
            images = images_with_annotations(ids[first : first + batch])
            run = check(ruleset, [image_data(i) for i in images])
            rows, with_errors, errors_total, warnings_total = [], 0, 0, 0
            for image, problems in zip(images, run.problems, strict=True):
                errors, warnings = count(problems)
                with_errors += bool(errors)
                errors_total += errors
                warnings_total += warnings
                rows.append(
                    RuleCheck(
                        project_id=job.project_id,
                        image=image,
                        project_check=job,
                        kind=CheckKind.PROJECT,
                        ruleset_version=ruleset.version,
                        problems=problems,
                        errors=errors,
                        warnings=warnings,
                    )
                )
            RuleCheck.objects.bulk_create(rows)
            job.stopped.update(run.stopped)
            ProjectCheck.objects.filter(pk=job.pk).update(
                images_checked=F("images_checked") + len(images),
                images_with_errors=F("images_with_errors") + with_errors,
                errors=F("errors") + errors_total,
                warnings=F("warnings") + warnings_total,
                stopped=job.stopped,
            )
    except SandboxUnavailable as exc:
        ProjectCheck.objects.filter(pk=job.pk).update(
            state=ProjectCheckState.FAILED, failure=str(exc), finished_at=timezone.now()
        )
        return
    ProjectCheck.objects.filter(pk=job.pk).update(
        state=ProjectCheckState.DONE, finished_at=timezone.now()
    )
