"""The whole-project check on the worker: takes a :class:`ProjectCheck` id, claims it with
one conditional update (a second delivery does nothing), checks the project's images in
batches (one sandbox run per batch when there are custom rules; the batches of one check
share a warm runner), stores a :class:`RuleCheck` per image and keeps the counts on the
job's row as it goes. A beat sweep queues again the checks a dead worker left running."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
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


@shared_task(name="webapp.qualityrules.tasks.check_project", acks_late=True)
def check_project(check_id: int) -> None:
    """Check every image of project check ``check_id`` if it is still queued; nothing when
    another worker claimed it. A batch's results and counts are stored together, and only
    while this attempt still holds the job (the sweep may have given it to another)."""
    job = ProjectCheck.objects.filter(pk=check_id).first()
    if job is None:
        log.warning("project check %s is gone", check_id)
        return
    if not job.claim():
        log.info("project check %s was already claimed (%s)", check_id, job.state)
        return
    ruleset = RuleSetVersion.objects.get(project_id=job.project_id, version=job.ruleset_version)
    ids = list(
        Image.objects.filter(project_id=job.project_id).order_by("id").values_list("pk", flat=True)
    )
    job.held().update(images_total=len(ids), heartbeat_at=timezone.now())
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
            job.stopped.update(run.stopped)
            with transaction.atomic():
                held = job.held().update(
                    images_checked=F("images_checked") + len(images),
                    images_with_errors=F("images_with_errors") + with_errors,
                    errors=F("errors") + errors_total,
                    warnings=F("warnings") + warnings_total,
                    stopped=job.stopped,
                    heartbeat_at=timezone.now(),
                )
                if not held:
                    log.warning("project check %s is no longer this worker's", check_id)
                    return
                RuleCheck.objects.bulk_create(rows)
    except SandboxUnavailable as exc:
        job.held().update(
            state=ProjectCheckState.FAILED, failure=str(exc), finished_at=timezone.now()
        )
        return
    job.held().update(state=ProjectCheckState.DONE, finished_at=timezone.now())


@shared_task(name="webapp.qualityrules.tasks.sweep_stuck_project_checks")
def sweep_stuck_project_checks() -> list[int]:
    """Queue again the project checks queued, or running without a sign of life, for
    longer than SAMLABEL_STUCK_AFTER_SECONDS; fail those whose worker died too often.
    The ids queued again."""
    requeued, failed = ProjectCheck.objects.requeue_stuck()
    for check_id in requeued:
        check_project.delay(check_id)
    if requeued or failed:
        log.warning("Stuck project checks: queued again %s, failed %s.", requeued, failed)
    return requeued
