"""Handing work to the workers through the broker, with a clear answer when it is down.

The database is the source of truth and the broker only signals work, but a job the
user just asked for must not sit "pending" for ever because its message was never sent:
the request that starts it sends the message at once and, when the broker does not take
it, removes what it created and answers 503.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from rest_framework.exceptions import APIException

log = logging.getLogger(__name__)


class QueueUnavailable(APIException):
    """The broker did not take a job's message: nothing was started (503)."""

    status_code = 503
    default_detail = (
        "The job queue cannot be reached right now, so nothing was started. "
        "Try again in a minute; if this goes on, an administrator should check the broker "
        "(CELERY_BROKER_URL)."
    )
    default_code = "queue_unavailable"


def send(task: Task, *args: Any) -> None:
    """Publish ``task(*args)`` now; :class:`QueueUnavailable` when the broker refuses or
    cannot be reached (after Celery's own few quick retries)."""
    try:
        task.delay(*args)
    except Exception as exc:  # kombu's OperationalError, socket and OS errors alike
        log.warning("could not queue %s%r: %s", task.name, args, exc)
        raise QueueUnavailable from exc
