"""Reading a COCO instance-segmentation file into a :class:`~webapp.imports.records.Dataset`.

COCO's ``images`` name files (``file_name``, relative to the JSON file) and may declare
``width`` and ``height``; ``categories`` give each ``id`` a ``name``; each annotation has
an ``image_id``, a ``category_id`` and a ``segmentation``: a list of polygons
``[[x1, y1, x2, y2, ...], ...]`` in pixels, or an RLE ``{"size": [height, width],
"counts": ...}`` with compressed string or uncompressed list counts. The file's own
``bbox`` and ``area`` are ignored: they are derived from the mask when it is stored.

The JSON is read as :mod:`webapp.imports.documents` reads documents: refused over its
own size limit, or nested too deeply, before anything else is looked at.

An archive holds one ``.json`` file (``annotations.json`` when there are several) and
the images it names; a file name is looked up at its path relative to the JSON file,
then by basename when exactly one member has that basename.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from typing import Any, BinaryIO

from webapp.imports.archives import SafeArchive
from webapp.imports.documents import json_from_archive, json_from_stream
from webapp.imports.problems import ImportRejected, Problem, quoted
from webapp.imports.records import Dataset, DatasetAnnotation, DatasetImage, image_members
from webapp.projects.models import label_name_problem


def read_archive(archive: SafeArchive) -> Dataset:
    """The dataset of the archive's COCO JSON file, with images found in the archive."""
    documents = [
        m.path
        for m in archive.members
        if m.path.lower().endswith(".json") and not m.basename.startswith(".")
    ]
    if len(documents) > 1:
        documents = [p for p in documents if posixpath.basename(p) == "annotations.json"]
    if len(documents) != 1:
        raise ImportRejected(
            [
                Problem(
                    "archive",
                    "file",
                    "a COCO archive needs exactly one .json file (or one named annotations.json)",
                )
            ]
        )
    (document,) = documents
    members = image_members(archive)
    by_basename: dict[str, list[str]] = defaultdict(list)
    for path in members:
        by_basename[posixpath.basename(path)].append(path)
    folder = posixpath.dirname(document)
    paths = set(members)

    def member_for(file_name: str) -> str | None:
        relative = posixpath.normpath(posixpath.join(folder, file_name.replace("\\", "/")))
        if relative in paths:
            return relative
        candidates = by_basename.get(posixpath.basename(file_name), [])
        return candidates[0] if len(candidates) == 1 else None

    return read_parsed(json_from_archive(archive, document), document, member_for)


def read_document(source: BinaryIO, name: str) -> Dataset:
    """The dataset of the COCO JSON file ``source`` (``name`` names it in problems)."""
    return read_parsed(json_from_stream(source, name), name)


def read_parsed(document: object, name: str, member_for: Any = None) -> Dataset:
    """The dataset of a parsed COCO document (``name`` names it in problems).
    ``member_for(file_name)`` gives the archive member of an image, or None."""
    dataset = Dataset()
    if not isinstance(document, dict):
        dataset.problems.append(
            Problem(name, "file", "a COCO file is an object with images, annotations, categories")
        )
        return dataset
    image_index = _read_images(document, dataset, member_for)
    category_names = _read_categories(document, dataset)
    annotations = document.get("annotations")
    if not isinstance(annotations, list):
        dataset.problems.append(Problem("annotations", "annotations", "must be a list"))
        return dataset
    for number, annotation in enumerate(annotations):
        record = f"annotations[{number}]"
        if not isinstance(annotation, dict):
            dataset.problems.append(Problem(record, "annotation", "must be an object"))
            continue
        ok = True
        image_id = annotation.get("image_id")
        if _key(image_id) not in image_index:
            dataset.problems.append(
                Problem(record, "image_id", f"no image with id {quoted(image_id)} in images")
            )
            ok = False
        category_id = annotation.get("category_id")
        if _key(category_id) not in category_names:
            dataset.problems.append(
                Problem(
                    record,
                    "category_id",
                    f"no category with id {quoted(category_id)} in categories",
                )
            )
            ok = False
        segmentation = annotation.get("segmentation")
        rle = polygons = None
        if isinstance(segmentation, dict):
            rle = segmentation
        elif isinstance(segmentation, list) and segmentation:
            polygons = segmentation
        else:
            dataset.problems.append(
                Problem(record, "segmentation", "must be a list of polygons or an RLE object")
            )
            ok = False
        if ok:
            dataset.annotations.append(
                DatasetAnnotation(
                    record=record,
                    field="segmentation",
                    image=image_index[_key(image_id)],
                    class_name=category_names[_key(category_id)],
                    rle=rle,
                    polygons=polygons,
                )
            )
    return dataset


def _key(value: object) -> object:
    """Ids as dictionary keys: whole numbers only (``True`` is not the id 1)."""
    return value if isinstance(value, int | str) and not isinstance(value, bool) else None


def _read_images(document: dict[str, Any], dataset: Dataset, member_for: Any) -> dict[object, int]:
    images = document.get("images")
    index: dict[object, int] = {}
    if not isinstance(images, list):
        dataset.problems.append(Problem("images", "images", "must be a list"))
        return index
    for number, image in enumerate(images):
        record = f"images[{number}]"
        if not isinstance(image, dict):
            dataset.problems.append(Problem(record, "image", "must be an object"))
            continue
        file_name, key = image.get("file_name"), _key(image.get("id"))
        if not isinstance(file_name, str) or not file_name.strip():
            dataset.problems.append(Problem(record, "file_name", "must be a file name"))
            continue
        if key is None or key in index:
            dataset.problems.append(
                Problem(record, "id", f"id {quoted(image.get('id'))} is missing or repeated")
            )
            continue
        sizes = [image.get("width"), image.get("height")]
        if any(
            s is not None and (not isinstance(s, int) or isinstance(s, bool) or s < 1)
            for s in sizes
        ):
            dataset.problems.append(
                Problem(record, "width", "width and height must be positive whole numbers")
            )
            continue
        index[key] = len(dataset.images)
        dataset.images.append(
            DatasetImage(
                record=record,
                file_name=file_name,
                member=member_for(file_name) if member_for else None,
                width=sizes[0],
                height=sizes[1],
            )
        )
    return index


def _read_categories(document: dict[str, Any], dataset: Dataset) -> dict[object, str]:
    categories = document.get("categories")
    names: dict[object, str] = {}
    if not isinstance(categories, list):
        dataset.problems.append(Problem("categories", "categories", "must be a list"))
        return names
    for number, category in enumerate(categories):
        record = f"categories[{number}]"
        if not isinstance(category, dict):
            dataset.problems.append(Problem(record, "category", "must be an object"))
            continue
        key, name = _key(category.get("id")), category.get("name")
        if key is None or key in names:
            dataset.problems.append(
                Problem(record, "id", f"id {quoted(category.get('id'))} is missing or repeated")
            )
            continue
        if not isinstance(name, str) or not name.strip():
            dataset.problems.append(Problem(record, "name", "must be a non-empty name"))
            continue
        problem = label_name_problem(name.strip())
        if problem is not None:
            dataset.problems.append(Problem(record, "name", problem))
            continue
        names[key] = name.strip()
        dataset.class_records.setdefault(name.strip(), record)
    return names
