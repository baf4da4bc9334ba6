"""What the jobs a worker runs from a status row share (dataset exports and imports):
finding those a lost message or a dead worker left behind, and queuing them again or
failing them.

A job's model has ``status`` (pending, running, done, failed), ``attempts`` (claims so
far) and ``heartbeat_at`` (its last sign of life: the claim, then each progress write).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

# A worker may die under a job this many times before the sweep fails it.
MAX_ATTEMPTS = 3


class StuckJobQuerySet(models.QuerySet[Any]):
    """The sweep's queries. A subclass says how its model records a failure
    (:meth:`failure_fields`)."""

    def stuck(self, older_than: timedelta | None = None) -> StuckJobQuerySet:
        """Pending, or running without progress, for longer than ``older_than`` (default
        SAMLABEL_STUCK_AFTER_SECONDS)."""
        if older_than is None:
            older_than = timedelta(seconds=settings.SAMLABEL_STUCK_AFTER_SECONDS)
        return self.filter(
            status__in=["pending", "running"], heartbeat_at__lt=timezone.now() - older_than
        )

    def failure_fields(self, attempts: int) -> dict[str, Any]:
        """The fields, besides status and time, of a job failed after ``attempts``."""
        raise NotImplementedError

    def requeue_stuck(self, older_than: timedelta | None = None) -> tuple[list[int], list[int]]:
        """Put stuck jobs back to pending, or fail those that used their attempts;
        ``(ids to queue again, ids failed)``. Each row moves only if it is still as it was
        read, so two sweeps never both act on one job."""
        requeued: list[int] = []
        failed: list[int] = []
        now = timezone.now()
        for pk, status, heartbeat, attempts in self.stuck(older_than).values_list(
            "pk", "status", "heartbeat_at", "attempts"
        ):
            same = self.model._default_manager.filter(pk=pk, status=status, heartbeat_at=heartbeat)
            if attempts >= MAX_ATTEMPTS:
                if same.update(status="failed", finished_at=now, **self.failure_fields(attempts)):
                    failed.append(pk)
            elif same.update(status="pending", heartbeat_at=now):
                requeued.append(pk)
        return requeued, failed
