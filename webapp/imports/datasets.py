"""Importing a labelled dataset into a project, whatever its format: all or nothing.

A format reader (picked by format name from :data:`webapp.imports.formats.READERS`) turns
the user's files into a :class:`~webapp.imports.records.Dataset`. :func:`import_dataset`
then

1. finds each image: in the archive or else among the project's images by file name
   (basename). An archive's image is checked from its header alone first (Pillow's lazy
   open reads the size, not the pixels), so an image too large to decode is refused
   before any pixel of any image is decoded; content already in the project is reused
   by sha256;
2. checks every annotation against its image's real size (RLE size, polygon points) and
   derives each mask's RLE, bbox and area itself, ignoring the file's own bbox and area
   (polygons are rasterised as pycocotools reads them: see :mod:`webapp.imports.polygons`);
3. only when no record of the whole dataset has a problem, decodes each new image (as an
   upload is checked), writes its file and thumbnail to storage, and then stores label
   classes, images and annotations in one short transaction. Any failure deletes the
   files it wrote.

Label classes are matched by name. With ``create_missing_classes`` (the default) a class
that the dataset uses and the project lacks is created; without it, such a class is a
problem. Classes that the dataset defines but no annotation uses are not created, so
placeholders such as labelme's ``_background_`` do not clutter the project.
"""

from __future__ import annotations

import hashlib
import io
import logging
import posixpath
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from inference.images import ImageRejected, check_dimensions
from webapp.annotations import rle as rle_codec
from webapp.annotations.models import Annotation, AnnotationSource
from webapp.annotations.services import AnnotationRejected, mask_fields
from webapp.images.models import Image
from webapp.images.tasks import queue_encoding
from webapp.images.uploads import prepare_image, safe_original_name
from webapp.imports.archives import SafeArchive, open_archive
from webapp.imports.formats import FORMATS, READERS
from webapp.imports.models import SERVER_FAILURE, DatasetImport, ImportLost
from webapp.imports.polygons import rings_to_mask
from webapp.imports.problems import ImportRejected, Problem, quoted
from webapp.imports.records import Dataset
from webapp.projects.models import LabelClass, Project
from webapp.workflow.recount import annotations_imported

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

__all__ = ["FORMATS", "ImportCounts", "ImportStage", "import_dataset", "run_import"]

log = logging.getLogger(__name__)

# What the user reads when an import fails for a reason that is not in their data.
UNEXPECTED_FAILURE = "the import failed unexpectedly; nothing was stored, try again"

# Colours given to label classes an import creates, in turn (a colour-blind-safe set).
CLASS_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6")

_EXIF_ORIENTATION = 0x0112
_TURNED_A_QUARTER = {5, 6, 7, 8}  # EXIF orientations that swap width and height


class ImportStage:
    """The long stages of an import, in order, as reported to ``on_progress``."""

    CHECKING = "checking"  # reading each image's header (and hashing its bytes)
    MASKS = "masks"  # checking each annotation's mask against its image
    STORING = "storing"  # decoding each new image, writing it and its thumbnail


# (stage, items done, items in all in that stage): images, or annotations for "masks"
ProgressCallback = Callable[[str, int, int], None]


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
    """Width and height in pixels as the user sees the image (after EXIF orientation).
    Two dataset images with the same bytes share one _FoundImage."""

    width: int
    height: int
    existing: Image | None = None  # the project's image, when matched
    member: str | None = None  # otherwise the archive member to store
    sha256: str = ""


def import_dataset(
    project: Project,
    source: BinaryIO,
    file_name: str,
    dataset_format: str,
    *,
    user: AbstractBaseUser | None,
    create_missing_classes: bool = True,
    on_progress: ProgressCallback | None = None,
    before_commit: Callable[[ImportCounts], None] | None = None,
) -> ImportCounts:
    """Import ``source`` (a ``.json`` COCO file, or a ``.zip`` archive, by ``file_name``)
    into ``project``; raise :class:`ImportRejected` with every problem, storing nothing.

    ``on_progress(stage, done, total)`` follows the images, then the masks, then the new
    images again through the stages of :class:`ImportStage`. ``before_commit(counts)``
    runs inside the transaction that stores the rows, last: if it raises, nothing is
    stored (a worker uses it to record the outcome on its status row only if it still
    holds the claim).
    """
    reader = READERS.get(dataset_format)
    if reader is None:
        raise ImportRejected(
            [
                Problem(
                    "format",
                    "format",
                    f"unknown format {quoted(dataset_format)}; use {' or '.join(FORMATS)}",
                )
            ]
        )
    archive: SafeArchive | None = None
    if file_name.lower().endswith(".zip"):
        archive = open_archive(source)
    elif reader.read_document is None:
        raise ImportRejected(
            [Problem(file_name, "file", f"a {dataset_format} dataset must be sent as a .zip")]
        )
    report = on_progress or _no_progress
    try:
        if archive is not None:
            dataset = reader.read_archive(archive)
        else:
            assert reader.read_document is not None
            dataset = reader.read_document(source, file_name)
        if dataset.problems and not dataset.annotations and not dataset.images:
            raise ImportRejected(dataset.problems)
        found = _find_images(project, dataset, archive, report)
        classes = _check_classes(project, dataset, create_missing_classes)
        masks = _check_masks(dataset, found, report)
        if dataset.problems:
            raise ImportRejected(dataset.problems)
        new_images = _write_new_images(project, user, dataset, found, archive, report)
        try:
            return _store(project, user, dataset, found, new_images, classes, masks, before_commit)
        except BaseException:
            for image in new_images.values():
                _delete_files(image)
            raise
    finally:
        if archive is not None:
            archive.close()


def run_import(dataset_import: DatasetImport, source: BinaryIO) -> None:
    """Import ``source`` as ``dataset_import`` says (claimed by the caller: running),
    following its progress on the row, and record the outcome there: ``done`` with the
    counts (in the same transaction as the rows), or ``failed`` with the problems. An
    attempt that lost its claim to a newer one records nothing and stores nothing."""
    try:
        import_dataset(
            dataset_import.project,
            source,
            dataset_import.original_name,
            dataset_import.format,
            user=dataset_import.requested_by,
            create_missing_classes=dataset_import.create_missing_classes,
            on_progress=dataset_import.record_progress,
            before_commit=lambda counts: dataset_import.mark_done(counts.as_json()),
        )
    except ImportRejected as exc:
        dataset_import.mark_failed([p.as_json() for p in exc.problems])
    except ImportLost:
        log.warning("Import %s was taken over by another attempt.", dataset_import.pk)
    except Exception:
        log.exception("Import %s failed.", dataset_import.pk)
        dataset_import.mark_failed(
            [Problem("import", SERVER_FAILURE, UNEXPECTED_FAILURE).as_json()]
        )


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


def header_size(content: bytes) -> tuple[int, int]:
    """(width, height) in pixels as the user will see the image (EXIF orientation
    applied), read from the header alone: no pixel is decoded. Raises
    :class:`ImageRejected` for what is not an image, or is too large or too thin."""
    with warnings.catch_warnings():
        # check_dimensions decides about size; Pillow's warning would only repeat it.
        warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
        try:
            picture = PILImage.open(io.BytesIO(content))
        except UnidentifiedImageError:
            raise ImageRejected("not an image, or a format we cannot read") from None
        except PILImage.DecompressionBombError:
            raise ImageRejected("the image is too large to open safely") from None
        except (OSError, SyntaxError, ValueError):
            raise ImageRejected("the image data is corrupt or truncated") from None
    width, height = picture.size
    if _orientation(picture) in _TURNED_A_QUARTER:
        width, height = height, width
    check_dimensions(width, height)
    return width, height


def _orientation(picture: PILImage.Image) -> int:
    """The EXIF orientation known from the header. ``getexif()`` is avoided: for a PNG
    whose EXIF is not ahead of the pixels it would decode them to look further."""
    try:
        if picture.format == "TIFF":
            return int(picture.tag_v2.get(_EXIF_ORIENTATION, 1))  # type: ignore[attr-defined]
        raw = picture.info.get("exif")
        if not raw:
            return 1
        exif = PILImage.Exif()
        exif.load(raw)
        return int(exif.get(_EXIF_ORIENTATION, 1))
    except (OSError, SyntaxError, ValueError, TypeError):
        return 1


def _find_images(
    project: Project, dataset: Dataset, archive: SafeArchive | None, report: ProgressCallback
) -> dict[int, _FoundImage]:
    """Each dataset image that could be found, by its index; problems for the rest.
    Archive members are hashed and their headers read; no pixel is decoded here."""
    found: dict[int, _FoundImage] = {}
    by_name = Counter(Image.objects.filter(project=project).values_list("original_name", flat=True))
    by_content: dict[str, _FoundImage] = {}
    limit = settings.SAMLABEL_MAX_UPLOAD_BYTES
    total = len(dataset.images)
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
                if sha256 in by_content:
                    found[index] = by_content[sha256]
                elif existing is not None:
                    found[index] = _FoundImage(existing.width, existing.height, existing=existing)
                else:
                    try:
                        width, height = header_size(content)
                    except ImageRejected as exc:
                        problem = f"{entry.member}: {exc}"
                    else:
                        found[index] = _FoundImage(
                            width, height, member=entry.member, sha256=sha256
                        )
                if index in found:
                    by_content.setdefault(sha256, found[index])
                del content
        else:
            name = safe_original_name(posixpath.basename(entry.file_name))
            count = by_name[name]
            if count == 1:
                existing = Image.objects.get(project=project, original_name=name)
                found[index] = _FoundImage(existing.width, existing.height, existing=existing)
            elif count > 1:
                problem = f"the project has {count} images named {quoted(name)}; cannot tell which"
            else:
                where = "the project or the archive" if archive is not None else "the project"
                problem = f"no image named {quoted(name)} in {where}"
        report(ImportStage.CHECKING, index + 1, total)
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
                    f"{quoted(name)} cannot name a label class",
                )
            )
        elif create_missing_classes:
            classes[name] = None
        else:
            dataset.problems.append(
                Problem(
                    dataset.class_records.get(name, "categories"),
                    "name",
                    f"the project has no label class named {quoted(name)} "
                    "(and creating classes is off)",
                )
            )
    return classes


def _check_masks(
    dataset: Dataset, found: dict[int, _FoundImage], report: ProgressCallback
) -> list[dict[str, Any] | None]:
    """``{"rle", "bbox", "area"}`` of each annotation (None where it has a problem)."""
    masks: list[dict[str, Any] | None] = []
    total = len(dataset.annotations)
    for number, annotation in enumerate(dataset.annotations, start=1):
        report(ImportStage.MASKS, number, total)
        image = found.get(annotation.image)
        if image is None:
            entry = dataset.images[annotation.image]
            dataset.problems.append(
                Problem(
                    annotation.record,
                    "image",
                    f"its image {quoted(entry.file_name)} ({entry.record}) was not found",
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


def _write_new_images(
    project: Project,
    user: AbstractBaseUser | None,
    dataset: Dataset,
    found: dict[int, _FoundImage],
    archive: SafeArchive | None,
    report: ProgressCallback,
) -> dict[str, Image]:
    """Decode each new image of the archive, as an upload is checked, and write it and its
    thumbnail to storage: unsaved Image rows by sha256. Raises ImportRejected (with every
    image whose pixels fail to decode) after deleting what it wrote."""
    new = {f.sha256: (index, f) for index, f in reversed(found.items()) if f.member is not None}
    images: dict[str, Image] = {}
    problems: list[Problem] = []
    try:
        for done, (sha256, (index, image)) in enumerate(sorted(new.items(), key=_by_index)):
            assert archive is not None and image.member is not None
            content = archive.read(image.member)
            record = dataset.images[index].record
            try:
                # Checked and prepared as an upload is: every byte is checked, a large JPEG
                # is decoded only at the thumbnail's scale, and a picture browsers cannot
                # draw upright gets its display copy.
                picture = prepare_image(content)
            except ImageRejected as exc:
                reason = str(exc).removeprefix("the upload: ")
                problems.append(Problem(record, "file_name", f"{image.member}: {reason}"))
                continue
            if (picture.width, picture.height) != (image.width, image.height):
                problems.append(
                    Problem(
                        record,
                        "file_name",
                        f"{image.member}: its header says {image.width}×{image.height} but "
                        f"it decodes as {picture.width}×{picture.height}",
                    )
                )
                continue
            row = Image(
                project=project,
                original_name=safe_original_name(posixpath.basename(image.member)),
                width=picture.width,
                height=picture.height,
                sha256=sha256,
                uploaded_by=user,
            )
            images[sha256] = row
            row.file.save(f"original.{picture.extension}", ContentFile(content), save=False)
            row.thumbnail.save("thumbnail.jpg", ContentFile(picture.thumbnail), save=False)
            if picture.display is not None:
                row.display.save("display.png", ContentFile(picture.display), save=False)
            del content, picture
            report(ImportStage.STORING, done + 1, len(new))
        if problems:
            raise ImportRejected(problems)
    except BaseException:
        for row in images.values():
            _delete_files(row)
        raise
    return images


def _by_index(item: tuple[str, tuple[int, _FoundImage]]) -> int:
    return item[1][0]


def _delete_files(image: Image) -> None:
    storage = Image._meta.get_field("file").storage
    for name in (image.file.name, image.thumbnail.name, image.display.name):
        if name:
            storage.delete(name)


def _store(
    project: Project,
    user: AbstractBaseUser | None,
    dataset: Dataset,
    found: dict[int, _FoundImage],
    new_images: dict[str, Image],
    classes: dict[str, LabelClass | None],
    masks: list[dict[str, Any] | None],
    before_commit: Callable[[ImportCounts], None] | None,
) -> ImportCounts:
    """Label classes, image rows and annotations in one transaction; encoding of the new
    images is queued once it commits."""
    created_classes = 0
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
            for row in new_images.values():
                row.save()
                transaction.on_commit(lambda pk=row.pk: queue_encoding(pk))
            images = {
                index: image.existing or new_images[image.sha256] for index, image in found.items()
            }
            created = Annotation.objects.bulk_create(
                Annotation(
                    image=images[annotation.image],
                    label_class=classes[annotation.class_name],
                    author=user,
                    source=AnnotationSource.IMPORT,
                    **mask,
                )
                for annotation, mask in zip(dataset.annotations, masks, strict=True)
                if mask is not None
            )
            annotations_imported(created)
            counts = ImportCounts(
                images_created=len(new_images),
                images_matched=len({img.pk for img in images.values()}) - len(new_images),
                label_classes_created=created_classes,
                annotations_created=len(dataset.annotations),
            )
            if before_commit is not None:
                before_commit(counts)
    except IntegrityError:
        # Another upload stored one of these pictures while the import ran.
        raise ImportRejected(
            [
                Problem(
                    "archive",
                    "file",
                    "an image of the dataset was added to the project meanwhile; "
                    "start the import again",
                )
            ]
        ) from None
    return counts
