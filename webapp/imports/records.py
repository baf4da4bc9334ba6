"""What a format reader makes of the user's files: a :class:`Dataset` of images named as
the files name them, annotations that point at those images and at class names, and
every problem met on the way. Readers (:mod:`webapp.imports.coco`,
:mod:`webapp.imports.yolo`) build it; :mod:`webapp.imports.datasets` checks and stores it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from webapp.images.uploads import EXTENSIONS
from webapp.imports.archives import SafeArchive
from webapp.imports.problems import Problem

IMAGE_SUFFIXES = {f".{ext}" for ext in EXTENSIONS.values()} | {".jpeg", ".tiff"}


@dataclass
class DatasetImage:
    """An image as the dataset names it. ``member``: the archive member holding its
    pixels, if the archive has them. ``width``/``height``: as the dataset declares them
    (None when it does not say)."""

    record: str
    file_name: str
    member: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class DatasetAnnotation:
    """One mask: ``image`` indexes :attr:`Dataset.images`. Exactly one of ``rle`` (COCO
    RLE, string or list counts) and ``polygons`` (rings ``[x1, y1, ...]``) is set.
    Polygons are in pixels, or in fractions of the width and height when ``normalised``."""

    record: str
    field: str  # the field the mask came from, to name in problems
    image: int
    class_name: str
    rle: dict[str, Any] | None = None
    polygons: list[Any] | None = None
    normalised: bool = False


@dataclass
class Dataset:
    images: list[DatasetImage] = field(default_factory=list)
    annotations: list[DatasetAnnotation] = field(default_factory=list)
    # class name -> the record that defines it (named when the class is refused)
    class_records: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def image_members(archive: SafeArchive) -> list[str]:
    """Archive members named as images, leaving out macOS resource forks and hidden files."""
    return [
        m.path
        for m in archive.members
        if posixpath.splitext(m.path)[1].lower() in IMAGE_SUFFIXES
        and not m.basename.startswith(".")
        and "__MACOSX" not in m.path.split("/")
    ]
