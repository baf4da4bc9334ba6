"""What an export contains: the images and label classes chosen, and the annotations
of those classes on those images, read in chunks so that memory stays flat."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from webapp.annotations.models import Annotation
from webapp.exports.models import ExportFormat, MaskFormat
from webapp.images.models import Image
from webapp.projects.models import LabelClass, Project

# Rows fetched per database round trip while streaming annotations.
CHUNK_SIZE = 500

_UNSAFE_NAME_CHARACTERS = re.compile(r"[\x00-\x1f/\\:*?\"<>|]+")


class ExportError(Exception):
    """An export that cannot be written; the message says why, for the user."""


@dataclass(frozen=True)
class ExportOptions:
    """``label_classes`` / ``images``: ids to keep, None for all of the project's."""

    format: str
    mask_format: str = MaskFormat.RLE
    include_images: bool = True
    label_classes: list[int] | None = None
    images: list[int] | None = None

    def __post_init__(self) -> None:
        if self.format not in ExportFormat.values:
            raise ExportError(f"Unknown export format {self.format!r}.")
        if self.mask_format not in MaskFormat.values:
            raise ExportError(f"Unknown mask format {self.mask_format!r}.")

    @classmethod
    def from_row(cls, format: str, options: dict[str, Any]) -> ExportOptions:
        return cls(
            format=format,
            mask_format=options.get("mask_format", MaskFormat.RLE),
            include_images=bool(options.get("include_images", True)),
            label_classes=options.get("label_classes"),
            images=options.get("images"),
        )

    def as_row_options(self) -> dict[str, Any]:
        return {
            "mask_format": self.mask_format,
            "include_images": self.include_images,
            "label_classes": self.label_classes,
            "images": self.images,
        }


def safe_file_name(name: str, fallback: str) -> str:
    """The last part of ``name`` with characters that file systems refuse replaced."""
    base = PurePosixPath(name.replace("\\", "/")).name.strip()
    base = _UNSAFE_NAME_CHARACTERS.sub("_", base)
    return base if base not in ("", ".", "..") else fallback


def unique_file_names(rows: Iterable[tuple[int, str]]) -> dict[int, str]:
    """``{image id: file name}`` from ``(id, original_name)`` pairs: the original name
    where its stem is unique (ignoring case, since YOLO and VOC name files by stem),
    otherwise ``<id>_<name>``."""
    names = {pk: safe_file_name(name, f"image{pk}") for pk, name in rows}

    def stem(name: str) -> str:
        return PurePosixPath(name).stem.lower()

    counts: dict[str, int] = {}
    for name in names.values():
        counts[stem(name)] = counts.get(stem(name), 0) + 1
    taken = {stem(name) for name in names.values()}
    for pk, name in names.items():
        if counts[stem(name)] > 1:
            while stem(name) in taken:
                name = f"{pk}_{name}"
            taken.add(stem(name))
            names[pk] = name
    return names


class Selection:
    """The images, classes and annotations of ``project`` that ``options`` choose.

    Every selected image is exported, with or without annotations (images without any are
    negatives for training). Only the image names are held in memory, never masks.
    """

    def __init__(self, project: Project, options: ExportOptions) -> None:
        self.project = project
        self.options = options
        images = Image.objects.filter(project=project)
        if options.images is not None:
            images = images.filter(pk__in=options.images)
        self.images = images.order_by("id")
        classes = LabelClass.objects.filter(project=project)
        if options.label_classes is not None:
            classes = classes.filter(pk__in=options.label_classes)
        # Few rows per project; their order is the project's (order, id).
        self.classes: list[LabelClass] = list(classes.order_by("order", "id"))
        self.annotations = (
            Annotation.objects.filter(
                image__in=self.images.values("pk"),
                label_class__in=[label.pk for label in self.classes],
            )
            .only("id", "image_id", "label_class_id", "rle", "area", "bbox")
            .order_by("image_id", "id")
        )
        self.file_names = unique_file_names(self.images.values_list("id", "original_name"))

    def annotation_count(self) -> int:
        return self.annotations.count()

    def iter_annotations(self) -> Iterator[Annotation]:
        return self.annotations.iterator(chunk_size=CHUNK_SIZE)

    def iter_images(self) -> Iterator[Image]:
        return self.images.only("id", "file", "width", "height").iterator(chunk_size=CHUNK_SIZE)

    def iter_images_with_annotations(self) -> Iterator[tuple[Image, list[Annotation]]]:
        """Every selected image in id order with its selected annotations (id order)."""
        groups = itertools.groupby(self.iter_annotations(), key=lambda a: a.image_id)
        pending = next(groups, None)
        for image in self.iter_images():
            annotations: list[Annotation] = []
            if pending is not None and pending[0] == image.pk:
                annotations = list(pending[1])
                pending = next(groups, None)
            yield image, annotations
