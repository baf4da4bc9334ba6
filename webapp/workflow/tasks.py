"""Celery tasks of the workflow: the beat sweep that gives back images whose holder's
lease has passed (:func:`webapp.workflow.queue.release_expired_leases`)."""

from __future__ import annotations

import logging

from celery import shared_task

from webapp.workflow import queue

log = logging.getLogger(__name__)


@shared_task
def release_expired_leases() -> int:
    """Give back every image held past its lease; returns how many were given back."""
    released = queue.release_expired_leases()
    if released:
        log.info("gave back %d image(s) whose lease had passed", released)
    return released
