"""Write a project's dataset export to a zip: :func:`write_export`, the one function the
command line, the API and the Celery task all call, and :func:`store_export`, which
writes an Export row's zip into storage and records the outcome on the row."""

from __future__ import annotations

import logging
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.core.files import File

from webapp.exports.formats import WRITERS
from webapp.exports.models import Export, ExportLost, ExportStatus
from webapp.exports.selection import ExportError, ExportOptions, Selection
from webapp.projects.models import Project

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]  # (annotations written, annotations in all)

# How often (in annotations) progress is reported.
PROGRESS_EVERY = 200


@dataclass(frozen=True)
class ExportSummary:
    images: int
    annotations: int


def write_export(
    target: str | Path | BinaryIO,
    project: Project,
    options: ExportOptions,
    on_progress: ProgressCallback | None = None,
    progress_every: int = PROGRESS_EVERY,
) -> ExportSummary:
    """Write ``project``'s images and annotations chosen by ``options`` as a zip to
    ``target`` (a path or a writable binary file). Memory stays flat: annotations are read
    in chunks and each mask is decoded only while it is written.

    Raises :class:`~webapp.exports.selection.ExportError` when the data cannot be written
    in the chosen format.
    """
    selection = Selection(project, options)
    total = selection.annotation_count()
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if on_progress is not None and done % progress_every == 0:
            on_progress(done, total)

    if on_progress is not None:
        on_progress(0, total)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        WRITERS[options.format](zf, selection, tick)
    if on_progress is not None:
        # Annotations saved while the export read may be in it too: the count made at the
        # start is then short, and the end says what was written.
        on_progress(done, max(done, total))
    return ExportSummary(images=len(selection.file_names), annotations=done)


def store_export(export: Export) -> None:
    """Write ``export`` (claimed by the caller: status running) into storage and finish
    the row: ``done`` with its file, or ``failed`` with a reason for the user. An export
    cancelled or deleted meanwhile stops at its next progress write and leaves no file:
    the zip is written to a temporary file, and stored only while the row is held."""
    try:
        options = ExportOptions.from_row(export.format, export.options)
        with tempfile.TemporaryFile(suffix=".zip") as scratch:
            write_export(scratch, export.project, options, on_progress=export.record_progress)
            scratch.seek(0)
            export.file.save(export.download_name, File(scratch), save=False)
        if not export.finish(status=ExportStatus.DONE, file=export.file.name, error=""):
            raise ExportLost(f"export {export.pk} was cancelled or deleted at its end")
    except ExportLost:
        if export.file:
            export.file.storage.delete(export.file.name)
        log.info("Export %s was cancelled or deleted; it stopped and left no file.", export.pk)
    except ExportError as exc:
        export.finish(status=ExportStatus.FAILED, error=str(exc))
    except Exception:
        log.exception("Export %s failed.", export.pk)
        export.finish(
            status=ExportStatus.FAILED, error="The export failed unexpectedly; try again."
        )
