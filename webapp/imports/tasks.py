"""Celery tasks of the imports app: running a queued dataset import, and the sweep that
queues again (or fails) imports a lost message or a dead worker left behind.

A task takes an import's id, re-reads the row and claims it with a conditional update,
so a duplicate or re-delivered message does nothing. Callers import this module; it
imports only the code it runs.
"""

from __future__ import annotations

import logging

from celery import shared_task

from webapp.imports.datasets import run_import
from webapp.imports.models import DatasetImport

log = logging.getLogger(__name__)


@shared_task(name="webapp.imports.tasks.run_dataset_import", acks_late=True)
def run_dataset_import(import_id: int) -> None:
    """Run import ``import_id`` from its stored upload if it is still pending; nothing
    when another worker claimed it, it was cancelled, or the row is gone. The upload is
    deleted once the import is over, unless a retry may need it (cancelled, or failed on
    our side)."""
    dataset_import = (
        DatasetImport.objects.select_related("project", "requested_by").filter(pk=import_id).first()
    )
    if dataset_import is None:
        log.warning("Import %s is gone; nothing to do.", import_id)
        return
    if not dataset_import.claim():
        log.info("Import %s was already claimed (%s).", import_id, dataset_import.status)
        return
    try:
        with dataset_import.file.open("rb") as source:
            run_import(dataset_import, source)
    except FileNotFoundError:
        dataset_import.mark_failed(
            [{"record": "import", "field": "file", "problem": "the uploaded file is gone"}]
        )
    try:
        dataset_import.refresh_from_db(fields=["status", "problems"])
    except DatasetImport.DoesNotExist:
        log.info("Import %s was deleted while it ran; nothing was stored.", import_id)
        return
    if not dataset_import.keeps_upload:
        dataset_import.discard_upload()


@shared_task(name="webapp.imports.tasks.sweep_stuck_imports")
def sweep_stuck_imports() -> list[int]:
    """Queue again the imports pending, or running without progress, for longer than
    SAMLABEL_STUCK_AFTER_SECONDS; fail those whose worker stopped too often. The ids
    queued again."""
    requeued, failed = DatasetImport.objects.requeue_stuck()
    for import_id in requeued:
        run_dataset_import.delay(import_id)
    # Those failed keep their upload for a retry (see discard_expired_uploads).
    if requeued or failed:
        log.warning("Stuck imports: queued again %s, failed %s.", requeued, failed)
    return requeued


@shared_task(name="webapp.imports.tasks.discard_expired_uploads")
def discard_expired_uploads() -> list[int]:
    """Delete the uploads that cancelled imports, and those failed on our side, kept for
    a retry, once they finished SAMLABEL_EXPORT_TTL_DAYS ago; the imports' ids. Their
    rows stay, as the record of what was imported when."""
    discarded = []
    for dataset_import in DatasetImport.objects.upload_expired().exclude(file=""):
        dataset_import.discard_upload()
        discarded.append(dataset_import.pk)
    if discarded:
        log.info("Deleted the kept uploads of imports %s.", discarded)
    return discarded
