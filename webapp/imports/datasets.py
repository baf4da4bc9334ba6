"""Importing a labelled dataset into a project, whatever its format: all or nothing.

A format reader (:mod:`webapp.imports.coco`, :mod:`webapp.imports.yolo`) turns the user's
files into a :class:`Dataset`: images named as the files name them, annotations that point
at those images and at class names, and every problem it met. :func:`import_dataset` then

1. finds each image: in the archive (its pixels are validated exactly as an upload's, and
   content already in the project is reused by sha256) or else among the project's images
   by file name (basename);
2. checks every annotation against its image's real size (RLE size, polygon points) and
   derives each mask's RLE, bbox and area itself, ignoring the file's own bbox and area
   (polygons are rasterised as pycocotools reads them: see :mod:`webapp.imports.polygons`);
3. only when no record of the whole dataset has a problem, stores label classes, images
   and annotations in one transaction. Any failure there deletes the files it stored.

Label classes are matched by name. With ``create_missing_classes`` (the default) a class
that the dataset uses and the project lacks is created; without it, such a class is a
problem. Classes that the dataset defines but no annotation uses are not created, so
placeholders such as labelme's ``_background_`` do not clutter the project.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Max

from webapp.annotations import rle as rle_codec
from webapp.annotations.models import Annotation
from webapp.annotations.services import AnnotationRejected, mask_fields
from webapp.images.models import Image
from webapp.images.uploads import EXTENSIONS, ingest_upload, safe_original_name
from webapp.imports.archives import SafeArchive, max_import_bytes, open_archive
from webapp.imports.polygons import rings_to_mask
from webapp.imports.problems import ImportRejected, Problem
from webapp.projects.models import LabelClass, Project

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

FORMATS = ("coco", "yolo")
IMAGE_SUFFIXES = {f".{ext}" for ext in EXTENSIONS.values()} | {".jpeg", ".tiff"}
# Colours given to label classes an import creates, in turn (a colour-blind-safe set).
CLASS_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6")


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


@dataclass(frozen=True)
class ImportCounts:
    images_created: int
    images_matched: int
    label_classes_created: int
    annotations_created: int

    def as_json(self) -> dict[str, int]:
        return {
            "images_created": self.images_created,
            "images_matched": self.images_matched,
            "label_classes_created": self.label_classes_created,
            "annotations_created": self.annotations_created,
        }


@dataclass
class _FoundImage:
    width: int
    height: int
    existing: Image | None = None  # the project's image, when matched
    member: str | None = None  # otherwise the archive member to store


def import_dataset(
    project: Project,
    source: BinaryIO,
    file_name: str,
    dataset_format: str,
    *,
    user: AbstractBaseUser | None,
    create_missing_classes: bool = True,
) -> ImportCounts:
    """Import ``source`` (a ``.json`` COCO file, or a ``.zip`` archive, by ``file_name``)
    into ``project``; raise :class:`ImportRejected` with every problem, storing nothing."""
    from webapp.imports import coco, yolo

    if dataset_format not in FORMATS:
        raise ImportRejected(
            [Problem("format", "format", f"unknown format {dataset_format!r}; use coco or yolo")]
        )
    archive: SafeArchive | None = None
    if file_name.lower().endswith(".zip"):
        archive = open_archive(source)
    elif dataset_format == "yolo":
        raise ImportRejected([Problem(file_name, "file", "a YOLO dataset must be sent as a .zip")])
    try:
        if archive is not None:
            dataset = coco.read_archive(archive) if dataset_format == "coco" else yolo.read(archive)
        else:
            dataset = coco.read_document(_read_bounded(source, file_name), file_name)
        if dataset.problems and not dataset.annotations and not dataset.images:
            raise ImportRejected(dataset.problems)
        found = _find_images(project, dataset, archive)
        classes = _check_classes(project, dataset, create_missing_classes)
        masks = _check_masks(dataset, found)
        if dataset.problems:
            raise ImportRejected(dataset.problems)
        return _store(project, user, dataset, found, classes, masks, archive)
    finally:
        if archive is not None:
            archive.close()


def _read_bounded(source: BinaryIO, file_name: str) -> bytes:
    limit = max_import_bytes()
    content = source.read(limit + 1)
    if len(content) > limit:
        raise ImportRejected([Problem(file_name, "file", f"the file is over {limit:,} bytes")])
    return content


def _find_images(
    project: Project, dataset: Dataset, archive: SafeArchive | None
) -> dict[int, _FoundImage]:
    """Each dataset image that could be found, by its index; problems for the rest."""
    from inference.images import ImageRejected, load_image

    found: dict[int, _FoundImage] = {}
    by_name = Counter(Image.objects.filter(project=project).values_list("original_name", flat=True))
    limit = settings.SAMLABEL_MAX_UPLOAD_BYTES
    for index, entry in enumerate(dataset.images):
        problem = None
        if entry.member is not None and archive is not None:
            size = archive.size(entry.member)
            if size > limit:
                problem = f"{entry.member} is {size:,} bytes, over the upload limit of {limit:,}"
            else:
                content = archive.read(entry.member)
                sha256 = hashlib.sha256(content).hexdigest()
                existing = Image.objects.filter(project=project, sha256=sha256).first()
                if existing is not None:
                    found[index] = _FoundImage(existing.width, existing.height, existing=existing)
                else:
                    try:
                        picture = load_image(content)
                    except ImageRejected as exc:
                        problem = f"{entry.member}: {str(exc).removeprefix('the upload: ')}"
                    else:
                        found[index] = _FoundImage(
                            picture.width, picture.height, member=entry.member
                        )
                del content
        else:
            name = safe_original_name(posixpath.basename(entry.file_name))
            count = by_name[name]
            if count == 1:
                existing = Image.objects.get(project=project, original_name=name)
                found[index] = _FoundImage(existing.width, existing.height, existing=existing)
            elif count > 1:
                problem = f"the project has {count} images named {name!r}; cannot tell which"
            else:
                where = "the project or the archive" if archive is not None else "the project"
                problem = f"no image named {name!r} in {where}"
        if problem is not None:
            dataset.problems.append(Problem(entry.record, "file_name", problem))
            continue
        image = found[index]
        for side, declared, actual in (
            ("width", entry.width, image.width),
            ("height", entry.height, image.height),
        ):
            if declared is not None and declared != actual:
                dataset.problems.append(
                    Problem(
                        entry.record,
                        side,
                        f"{side} {declared} is not the image's {side} {actual} (pixels)",
                    )
                )
    return found


def _check_classes(
    project: Project, dataset: Dataset, create_missing_classes: bool
) -> dict[str, LabelClass | None]:
    """Class name -> the project's class, or None for one to create."""
    used = list(dict.fromkeys(a.class_name for a in dataset.annotations))
    existing = {c.name: c for c in LabelClass.objects.filter(project=project, name__in=used)}
    classes: dict[str, LabelClass | None] = {}
    for name in used:
        if name in existing:
            classes[name] = existing[name]
        elif not name or len(name) > LabelClass._meta.get_field("name").max_length:
            dataset.problems.append(
                Problem(
                    dataset.class_records.get(name, "categories"),
                    "name",
                    f"{name!r} cannot name a label class",
                )
            )
        elif create_missing_classes:
            classes[name] = None
        else:
            dataset.problems.append(
                Problem(
                    dataset.class_records.get(name, "categories"),
                    "name",
                    f"the project has no label class named {name!r} (and creating classes is off)",
                )
            )
    return classes


def _check_masks(dataset: Dataset, found: dict[int, _FoundImage]) -> list[dict[str, Any] | None]:
    """``{"rle", "bbox", "area"}`` of each annotation (None where it has a problem)."""
    masks: list[dict[str, Any] | None] = []
    for annotation in dataset.annotations:
        image = found.get(annotation.image)
        if image is None:
            entry = dataset.images[annotation.image]
            dataset.problems.append(
                Problem(
                    annotation.record,
                    "image",
                    f"its image {entry.file_name!r} ({entry.record}) was not found",
                )
            )
            masks.append(None)
            continue
        polygons = annotation.polygons
        if polygons is not None and annotation.normalised:
            polygons = [
                [v * (image.width if i % 2 == 0 else image.height) for i, v in enumerate(ring)]
                for ring in polygons
            ]
        try:
            rle = annotation.rle
            if polygons is not None:
                rle = rle_codec.encode(rings_to_mask(polygons, image.height, image.width))
            # mask_fields reads only the size of the image it is given.
            frame = Image(width=image.width, height=image.height)
            masks.append(mask_fields(frame, rle=rle))
        except (AnnotationRejected, rle_codec.InvalidMask) as exc:
            dataset.problems.append(Problem(annotation.record, annotation.field, str(exc)))
            masks.append(None)
    return masks


def _store(
    project: Project,
    user: AbstractBaseUser | None,
    dataset: Dataset,
    found: dict[int, _FoundImage],
    classes: dict[str, LabelClass | None],
    masks: list[dict[str, Any] | None],
    archive: SafeArchive | None,
) -> ImportCounts:
    stored_files: list[str] = []
    images: dict[int, Image] = {}
    created_images = created_classes = 0
    try:
        with transaction.atomic():
            order = LabelClass.objects.filter(project=project).aggregate(m=Max("order"))["m"]
            order = -1 if order is None else order
            for name, label_class in classes.items():
                if label_class is None:
                    order += 1
                    classes[name] = LabelClass.objects.create(
                        project=project,
                        name=name,
                        order=order,
                        color=CLASS_COLOURS[created_classes % len(CLASS_COLOURS)],
                    )
                    created_classes += 1
            for index, image in found.items():
                if image.existing is not None:
                    images[index] = image.existing
                    continue
                assert archive is not None and image.member is not None
                upload = SimpleUploadedFile(
                    posixpath.basename(image.member), archive.read(image.member)
                )
                result = ingest_upload(project, upload, user)
                if result.outcome == "rejected" or result.image is None:
                    raise ImportRejected(
                        [Problem(dataset.images[index].record, "file_name", result.reason)]
                    )
                if result.outcome == "created":
                    created_images += 1
                    stored_files += [result.image.file.name, result.image.thumbnail.name]
                images[index] = result.image
            Annotation.objects.bulk_create(
                Annotation(
                    image=images[annotation.image],
                    label_class=classes[annotation.class_name],
                    author=user,
                    **mask,
                )
                for annotation, mask in zip(dataset.annotations, masks, strict=True)
                if mask is not None
            )
    except BaseException:
        storage = Image._meta.get_field("file").storage
        for name in stored_files:
            storage.delete(name)
        raise
    matched = len({img.pk for img in images.values()}) - created_images
    return ImportCounts(
        images_created=created_images,
        images_matched=matched,
        label_classes_created=created_classes,
        annotations_created=len(dataset.annotations),
    )


def image_members(archive: SafeArchive) -> list[str]:
    """Archive members named as images, leaving out macOS resource forks and hidden files."""
    return [
        m.path
        for m in archive.members
        if posixpath.splitext(m.path)[1].lower() in IMAGE_SUFFIXES
        and not m.basename.startswith(".")
        and "__MACOSX" not in m.path.split("/")
    ]
