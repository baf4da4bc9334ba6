"""What the jobs a worker runs from a status row share (dataset exports and imports):
finding those a lost message or a dead worker left behind and queuing them again or
failing them, cancelling them, and queuing a failed or cancelled one again for a user.

A job's model has ``status`` (pending, running, done, failed, cancelled), ``attempts``
(claims so far, never reset, so an attempt knows whether it still holds the job),
``retried_at_attempt`` (``attempts`` when a user last queued it again: the sweep counts
only the attempts since), ``heartbeat_at`` (its last sign of life: the claim, then each
progress write) and ``finished_at``.

A worker holds a job while its row is ``running`` with the ``attempts`` its claim set;
a cancel (status ``cancelled``) or a delete (no row) takes the job away, and the worker
notices at its next progress write and stops.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Task
from django.conf import settings
from django.db import models
from django.db.models import F
from django.utils import timezone

from webapp.core.queue import QueueUnavailable, send

log = logging.getLogger(__name__)

# A worker may die under a job this many times (since it was last started by a user)
# before the sweep fails it.
MAX_ATTEMPTS = 3

ACTIVE = ("pending", "running")
FINISHED = ("done", "failed", "cancelled")
RETRYABLE = ("failed", "cancelled")


class StuckJobQuerySet(models.QuerySet[Any]):
    """The sweep's, the cancel's and the retry's queries. A subclass says how its model
    records a failure (:meth:`failure_fields`) and what a retry clears
    (:meth:`outcome_fields`)."""

    def stuck(self, older_than: timedelta | None = None) -> StuckJobQuerySet:
        """Pending, or running without progress, for longer than ``older_than`` (default
        SAMLABEL_STUCK_AFTER_SECONDS)."""
        if older_than is None:
            older_than = timedelta(seconds=settings.SAMLABEL_STUCK_AFTER_SECONDS)
        return self.filter(status__in=ACTIVE, heartbeat_at__lt=timezone.now() - older_than)

    def finished_before(self, moment: Any) -> StuckJobQuerySet:
        """Done, failed or cancelled before ``moment`` (a datetime)."""
        return self.filter(status__in=FINISHED, finished_at__lt=moment)

    def failure_fields(self, attempts: int) -> dict[str, Any]:
        """The fields, besides status and time, of a job failed after ``attempts``."""
        raise NotImplementedError

    def outcome_fields(self) -> dict[str, Any]:
        """The fields, besides status and time, that a retry sets back to "no outcome"."""
        raise NotImplementedError

    def requeue_stuck(self, older_than: timedelta | None = None) -> tuple[list[int], list[int]]:
        """Put stuck jobs back to pending, or fail those that used their attempts;
        ``(ids to queue again, ids failed)``. Each row moves only if it is still as it was
        read, so two sweeps never both act on one job."""
        requeued: list[int] = []
        failed: list[int] = []
        now = timezone.now()
        rows = self.stuck(older_than).values_list(
            "pk", "status", "heartbeat_at", "attempts", "retried_at_attempt"
        )
        for pk, status, heartbeat, attempts, retried_at in rows:
            same = self.model._default_manager.filter(pk=pk, status=status, heartbeat_at=heartbeat)
            tries = attempts - retried_at
            if tries >= MAX_ATTEMPTS:
                if same.update(status="failed", finished_at=now, **self.failure_fields(tries)):
                    failed.append(pk)
            elif same.update(status="pending", heartbeat_at=now):
                requeued.append(pk)
        return requeued, failed

    def cancel(self, pk: int) -> bool:
        """Move job ``pk`` from pending or running to cancelled; False when it was
        already over. Its worker, if one holds it, stops at its next progress write."""
        return bool(
            self.filter(pk=pk, status__in=ACTIVE).update(
                status="cancelled", finished_at=timezone.now()
            )
        )

    def queue_again(self, job: models.Model, task: Task) -> bool:
        """Put ``job`` (failed or cancelled, as just read) back to pending as a new
        attempt and send ``task(job.pk)``; False when it was not failed or cancelled (or
        changed since it was read). Raises :class:`~webapp.core.queue.QueueUnavailable`,
        leaving the job as it was, when the broker does not take the message."""
        job_any: Any = job
        if job_any.status not in RETRYABLE:
            return False
        before = {
            name: getattr(job, name)
            for name in ["status", "finished_at", "retried_at_attempt", *self.outcome_fields()]
        }
        now = timezone.now()
        moved = self.filter(
            pk=job.pk, status=job_any.status, finished_at=job_any.finished_at
        ).update(
            status="pending",
            finished_at=None,
            heartbeat_at=now,
            retried_at_attempt=F("attempts"),
            **self.outcome_fields(),
        )
        if not moved:
            return False
        try:
            send(task, job.pk)
        except QueueUnavailable:
            # Only if no worker took it meanwhile (it cannot have: the message never left).
            self.filter(pk=job.pk, status="pending", heartbeat_at=now).update(**before)
            raise
        job.refresh_from_db()
        return True
