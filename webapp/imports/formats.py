"""The dataset formats an import reads, each a :class:`Reader`: the table
:data:`READERS` (format name -> reader) is the one place that lists them, as
:data:`webapp.exports.formats.WRITERS` lists the export layouts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from webapp.imports import coco, yolo
from webapp.imports.archives import SafeArchive
from webapp.imports.records import Dataset


@dataclass(frozen=True)
class Reader:
    """``read_archive``: a ``.zip`` of the dataset with its images. ``read_document``:
    the dataset as one file (an open binary stream and its name), for formats that have
    such a file; None for those that come only as an archive."""

    label: str
    read_archive: Callable[[SafeArchive], Dataset]
    read_document: Callable[[BinaryIO, str], Dataset] | None = None


READERS: dict[str, Reader] = {
    "coco": Reader(
        "COCO instance segmentation (.json or .zip)", coco.read_archive, coco.read_document
    ),
    "yolo": Reader("Ultralytics YOLO segmentation (.zip)", yolo.read_archive),
}
FORMATS = tuple(READERS)
