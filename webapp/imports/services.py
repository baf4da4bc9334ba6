"""Starting a dataset import (the status row, then the import run now or by a worker),
and starting a cancelled or failed one again from its kept upload."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from webapp.core.queue import QueueUnavailable, send
from webapp.images.uploads import safe_original_name
from webapp.imports.datasets import run_import
from webapp.imports.models import DatasetImport
from webapp.imports.tasks import run_dataset_import
from webapp.projects.models import Project

# Uploads of at most this many bytes are imported during the request that sends them (a
# few seconds at most); larger ones are stored and imported by a Celery worker.
RUN_IN_REQUEST_UP_TO_BYTES = 8 * 1024**2


def start_import(
    project: Project,
    requested_by: Any,
    upload: UploadedFile,
    dataset_format: str,
    *,
    create_missing_classes: bool = True,
) -> DatasetImport:
    """Create the import's row and run it now (small: its status is then done or failed)
    or store the upload and queue the task after commit (large: pending). Raises
    :class:`~webapp.core.queue.QueueUnavailable`, leaving no row or file, when the broker
    does not take the task."""
    dataset_import = DatasetImport(
        project=project,
        requested_by=requested_by,
        format=dataset_format,
        original_name=safe_original_name(upload.name),
        create_missing_classes=create_missing_classes,
    )
    if (upload.size or 0) <= RUN_IN_REQUEST_UP_TO_BYTES:
        dataset_import.save()
        dataset_import.claim()
        run_import(dataset_import, upload)
        return dataset_import
    dataset_import.file.save(dataset_import.original_name, upload, save=True)
    # Outside a transaction this sends at once, so a broker that is down is known here:
    # the row and the stored upload go, and the caller answers 503.
    try:
        transaction.on_commit(lambda: send(run_dataset_import, dataset_import.pk))
    except QueueUnavailable:
        dataset_import.file.delete(save=False)
        dataset_import.delete()
        raise
    return dataset_import


def retry_import(dataset_import: DatasetImport) -> bool:
    """Queue ``dataset_import`` again from its kept upload as a new attempt; False when it
    cannot be (:attr:`DatasetImport.can_retry`). Raises
    :class:`~webapp.core.queue.QueueUnavailable`, leaving it as it was, when the broker
    does not take the task."""
    if not dataset_import.can_retry:
        return False
    return DatasetImport.objects.queue_again(dataset_import, run_dataset_import)
