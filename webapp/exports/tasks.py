"""Celery tasks of the exports app."""

from __future__ import annotations

from celery import shared_task

from webapp.exports import services


@shared_task(name="webapp.exports.tasks.run_export")
def run_export(export_id: int) -> None:
    """Write export ``export_id`` (see :func:`webapp.exports.services.run_export`)."""
    services.run_export(export_id)
