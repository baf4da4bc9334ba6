"""Celery tasks of the exports app.

A task takes an export's id, re-reads the row, claims it with a conditional update (so
a duplicate or re-delivered message does nothing) and writes it with
:func:`webapp.exports.exporter.store_export`. Callers import this module; it imports
only the code it runs.
"""

from __future__ import annotations

import logging

from celery import shared_task

from webapp.exports.exporter import store_export
from webapp.exports.models import Export

log = logging.getLogger(__name__)


# Acknowledged late, as image encoding is: a broker that keeps unacknowledged messages
# (Redis) gives the export to another worker when this one dies under it; with one that
# drops them on delivery (the filesystem broker), the sweep queues it again.
@shared_task(name="webapp.exports.tasks.run_export", acks_late=True)
def run_export(export_id: int) -> None:
    """Write export ``export_id`` if it is still pending; nothing when another worker
    claimed it, it was cancelled, or the row is gone. A failure is stored on the row for
    the user."""
    export = Export.objects.select_related("project").filter(pk=export_id).first()
    if export is None:
        log.warning("Export %s is gone; nothing to do.", export_id)
        return
    if not export.claim():
        log.info("Export %s was already claimed (%s).", export_id, export.status)
        return
    store_export(export)


@shared_task(name="webapp.exports.tasks.sweep_stuck_exports")
def sweep_stuck_exports() -> list[int]:
    """Queue again the exports pending, or running without progress, for longer than
    SAMLABEL_STUCK_AFTER_SECONDS (a lost message, a killed worker); fail those whose
    worker stopped too often. The ids queued again."""
    requeued, failed = Export.objects.requeue_stuck()
    for export_id in requeued:
        run_export.delay(export_id)
    if requeued or failed:
        log.warning("Stuck exports: queued again %s, failed %s.", requeued, failed)
    return requeued


@shared_task(name="webapp.exports.tasks.delete_expired_exports")
def delete_expired_exports() -> int:
    """Delete the exports finished more than SAMLABEL_EXPORT_TTL_DAYS ago, with their zips;
    how many. Nothing when SAMLABEL_EXPORT_TTL_DAYS is 0."""
    deleted = Export.objects.expired().delete_with_files()
    if deleted:
        log.info("Deleted %d expired export(s) and their files.", deleted)
    return deleted
