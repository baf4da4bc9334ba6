"""What an export contains: the images and label classes chosen, and the annotations
of those classes on those images, read in chunks so that memory stays flat."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.db.models import Exists, OuterRef

from webapp.annotations.models import Annotation
from webapp.exports.models import ExportFormat, ImageScope, MaskFormat
from webapp.images.models import Image
from webapp.projects.models import LabelClass, Project
from webapp.workflow.models import WorkState

# Rows fetched per database round trip while streaming annotations.
CHUNK_SIZE = 500

_UNSAFE_NAME_CHARACTERS = re.compile(r"[\x00-\x1f/\\:*?\"<>|]+")


# The share of images a YOLO export holds out for validation unless told otherwise.
DEFAULT_VAL_FRACTION = 0.2


class ExportError(Exception):
    """An export that cannot be written; the message says why, for the user."""


@dataclass(frozen=True)
class ExportOptions:
    """What to export.

    ``label_classes`` / ``images``: ids to keep, None for all of the project's.
    ``image_scope``: ``"accepted"`` keeps only the images a reviewer accepted (the default
    where the project's review is on), ``"annotated"`` only the images with at least one
    non-empty annotation of a kept class (the default otherwise: an image nobody labelled
    is not a negative, it is unknown), ``"all"`` every chosen image. ``val_fraction``
    (0 <= f < 1) and ``seed``: the share of images a YOLO export puts in its validation
    split, and the seed that picks them (see :func:`validation_ids`).
    """

    format: str
    mask_format: str = MaskFormat.RLE
    include_images: bool = True
    label_classes: list[int] | None = None
    images: list[int] | None = None
    image_scope: str = ImageScope.ANNOTATED
    val_fraction: float = DEFAULT_VAL_FRACTION
    seed: int = 0

    def __post_init__(self) -> None:
        if self.format not in ExportFormat.values:
            raise ExportError(f"Unknown export format {self.format!r}.")
        if self.mask_format not in MaskFormat.values:
            raise ExportError(f"Unknown mask format {self.mask_format!r}.")
        if self.image_scope not in ImageScope.values:
            raise ExportError(
                f"Unknown image scope {self.image_scope!r}; use {' or '.join(ImageScope.values)}."
            )
        if not 0.0 <= self.val_fraction < 1.0:
            raise ExportError(
                f"The validation fraction must be at least 0 and below 1, not {self.val_fraction}."
            )

    @classmethod
    def from_row(cls, format: str, options: dict[str, Any]) -> ExportOptions:
        """Options stored by :meth:`as_row_options`. Rows written before a key existed
        get the behaviour of that time: every image, one split."""
        return cls(
            format=format,
            mask_format=options.get("mask_format", MaskFormat.RLE),
            include_images=bool(options.get("include_images", True)),
            label_classes=options.get("label_classes"),
            images=options.get("images"),
            image_scope=options.get("image_scope", ImageScope.ALL),
            val_fraction=float(options.get("val_fraction", 0.0)),
            seed=int(options.get("seed", 0)),
        )

    def as_row_options(self) -> dict[str, Any]:
        return {
            "mask_format": self.mask_format,
            "include_images": self.include_images,
            "label_classes": self.label_classes,
            "images": self.images,
            "image_scope": self.image_scope,
            "val_fraction": self.val_fraction,
            "seed": self.seed,
        }


def validation_ids(image_ids: Iterable[int], fraction: float, seed: int) -> set[int]:
    """The ids of the images that go to the validation split.

    ``round(fraction * n)`` of the ``n`` images, but at least one when ``fraction`` > 0
    and never all of them (a training split needs an image): so with fewer than two
    images, or ``fraction`` 0, the set is empty and there is one split. The images are
    ranked by a SHA-256 of ``seed`` and their id: the same seed picks the same images on
    every machine and Python version, and adding images leaves most choices as they were.
    """
    ids = sorted(set(image_ids))
    count = round(fraction * len(ids))
    if fraction > 0:
        count = max(count, 1)
    count = min(count, len(ids) - 1)
    if count <= 0:
        return set()

    def rank(pk: int) -> str:
        return hashlib.sha256(f"{seed}:{pk}".encode()).hexdigest()

    return set(sorted(ids, key=rank)[:count])


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

    With ``image_scope`` ``"annotated"`` only images with at least one non-empty
    annotation of a chosen class are exported; with ``"all"`` every chosen image is (those
    without annotations become negatives for training). Only the image ids and names are
    held in memory, never masks.
    """

    def __init__(self, project: Project, options: ExportOptions) -> None:
        self.project = project
        self.options = options
        classes = LabelClass.objects.filter(project=project)
        if options.label_classes is not None:
            classes = classes.filter(pk__in=options.label_classes)
        # Few rows per project; their order is the project's (order, id).
        self.classes: list[LabelClass] = list(classes.order_by("order", "id"))
        class_ids = [label.pk for label in self.classes]
        images = Image.objects.filter(project=project)
        if options.images is not None:
            images = images.filter(pk__in=options.images)
        if options.image_scope == ImageScope.ACCEPTED:
            # What passed review, labelled or not: an accepted image without objects is
            # a checked negative.
            images = images.filter(work__state=WorkState.ACCEPTED)
        elif options.image_scope == ImageScope.ANNOTATED:
            images = images.filter(
                Exists(
                    Annotation.objects.filter(
                        image=OuterRef("pk"), label_class__in=class_ids, area__gt=0
                    )
                )
            )
        self.images = images.order_by("id")
        self.annotations = (
            Annotation.objects.filter(
                image__in=self.images.values("pk"),
                label_class__in=class_ids,
            )
            .only("id", "image_id", "label_class_id", "rle", "area", "bbox")
            .order_by("image_id", "id")
        )
        self.file_names = unique_file_names(self.images.values_list("id", "original_name"))
        self.validation_ids = validation_ids(self.file_names, options.val_fraction, options.seed)

    def split_of(self, image_id: int) -> str:
        """``"val"`` or ``"train"``: the split an image belongs to (see
        :func:`validation_ids`)."""
        return "val" if image_id in self.validation_ids else "train"

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
