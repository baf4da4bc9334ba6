"""Write a project's dataset export to a zip: the one function the command line, the API
and the Celery task all call."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from webapp.exports.formats import WRITERS
from webapp.exports.selection import ExportOptions, Selection
from webapp.projects.models import Project

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
        on_progress(done, total)
    return ExportSummary(images=len(selection.file_names), annotations=done)
