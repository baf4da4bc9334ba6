"""Starting and running exports: the Export row, the zip in storage, and the task."""

from __future__ import annotations

import logging
import tempfile
from typing import Any

from django.core.files import File
from django.db import transaction

from webapp.exports.exporter import write_export
from webapp.exports.models import Export, ExportStatus
from webapp.exports.selection import ExportError, ExportOptions, Selection
from webapp.projects.models import Project

log = logging.getLogger(__name__)

# Exports of at most this many annotations are written during the request that asks for
# them (a second or so); larger ones go to a Celery worker.
RUN_IN_REQUEST_UP_TO = 200


def start_export(project: Project, requested_by: Any, options: ExportOptions) -> Export:
    """Create the Export row and write it now (small) or queue it after commit (large)."""
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
        from webapp.exports.tasks import run_export as run_export_task

        transaction.on_commit(lambda: run_export_task.delay(export.pk))
    return export


def run_export(export_id: int) -> None:
    """Write export ``export_id`` if it is still pending; nothing when another worker
    claimed it or the row is gone. A failure is stored on the row for the user."""
    export = Export.objects.select_related("project").filter(pk=export_id).first()
    if export is None:
        log.warning("Export %s is gone; nothing to do.", export_id)
        return
    if not export.claim():
        log.info("Export %s was already claimed (%s).", export_id, export.status)
        return
    try:
        options = ExportOptions.from_row(export.format, export.options)
        with tempfile.TemporaryFile(suffix=".zip") as scratch:
            write_export(scratch, export.project, options, on_progress=export.record_progress)
            scratch.seek(0)
            export.file.save(export.download_name, File(scratch), save=False)
        export.finish(status=ExportStatus.DONE, file=export.file.name, error="")
    except ExportError as exc:
        export.finish(status=ExportStatus.FAILED, error=str(exc))
    except Exception:
        log.exception("Export %s failed.", export_id)
        export.finish(
            status=ExportStatus.FAILED, error="The export failed unexpectedly; try again."
        )
