"""Starting an export (the Export row, then the zip written now or by a worker),
queuing a failed or cancelled one again, and deleting one."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from webapp.core.queue import QueueUnavailable, send
from webapp.exports.models import Export
from webapp.exports.selection import ExportOptions, Selection
from webapp.exports.tasks import run_export
from webapp.projects.models import Project

# Exports of at most this many annotations are written during the request that asks for
# them (a second or so); larger ones go to a Celery worker.
RUN_IN_REQUEST_UP_TO = 200


def start_export(project: Project, requested_by: Any, options: ExportOptions) -> Export:
    """Create the Export row and write it now (small: the task's body runs in this
    process) or queue the task after commit (large). Raises
    :class:`~webapp.core.queue.QueueUnavailable`, leaving no row, when the broker does not
    take the task."""
    total = Selection(project, options).annotation_count()
    export = Export.objects.create(
        project=project,
        requested_by=requested_by,
        format=options.format,
        options=options.as_row_options(),
        progress_total=total,
    )
    if total <= RUN_IN_REQUEST_UP_TO:
        run_export(export.pk)
        export.refresh_from_db()
    else:
        # Outside a transaction this sends at once, so a broker that is down is known here:
        # the row goes and the caller answers 503, rather than an export pending for ever.
        try:
            transaction.on_commit(lambda: send(run_export, export.pk))
        except QueueUnavailable:
            export.delete()
            raise
    return export


def retry_export(export: Export) -> bool:
    """Queue ``export`` (failed or cancelled) again as a new attempt; False when it is not
    failed or cancelled. Raises :class:`~webapp.core.queue.QueueUnavailable`, leaving it
    as it was, when the broker does not take the task."""
    return Export.objects.queue_again(export, run_export)


def delete_export(export: Export) -> None:
    """Delete ``export`` and, once committed, its zip. One still pending or running is
    deleted too: its worker finds the row gone at its next progress write, stops, and
    stores nothing."""
    Export.objects.filter(pk=export.pk).delete_with_files()
