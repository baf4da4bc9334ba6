"""Reading a YOLO segmentation archive into a :class:`~webapp.imports.records.Dataset`.

The archive holds ``data.yaml`` with the class names (``names: [cat, dog]`` or
``names: {0: cat, 1: dog}``), images under an ``images`` folder and, for each image, a
label file at the same path under ``labels`` with the suffix ``.txt``
(``images/train/a.jpg`` -> ``labels/train/a.txt``). Each line of a label file is one
object: ``class x1 y1 x2 y2 ... xn yn``, the coordinates fractions of the image's width
and height in [0, 1]. An image without a label file has no objects.

YAML is read with PyYAML's safe loader (installed with drf-spectacular), without aliases
and with bounded nesting: see :mod:`webapp.imports.documents`.
"""

from __future__ import annotations

import math
import posixpath

from webapp.imports.archives import SafeArchive
from webapp.imports.documents import yaml_from_archive
from webapp.imports.problems import ImportRejected, Problem, quoted
from webapp.imports.records import Dataset, DatasetAnnotation, DatasetImage, image_members
from webapp.projects.models import label_name_problem


def read_archive(archive: SafeArchive) -> Dataset:
    """The dataset of the archive's data.yaml, label files and images."""
    dataset = Dataset()
    names = _read_names(archive)
    for name in names.values():
        dataset.class_records.setdefault(name, "data.yaml")
    images = [p for p in image_members(archive) if "images" in p.split("/")[:-1]]
    labels = {
        m.path
        for m in archive.members
        if m.path.endswith(".txt") and "labels" in m.path.split("/")[:-1]
    }
    used_labels: set[str] = set()
    for path in sorted(images):
        index = len(dataset.images)
        dataset.images.append(DatasetImage(record=path, file_name=path, member=path))
        label_path = _label_path(path)
        if label_path not in labels:
            continue
        used_labels.add(label_path)
        _read_labels(archive.read(label_path), label_path, index, names, dataset)
    for orphan in sorted(labels - used_labels):
        dataset.problems.append(
            Problem(orphan, "file", "no image for this label file under images/ with the same name")
        )
    return dataset


def _label_path(image_path: str) -> str:
    parts = image_path.split("/")
    # The last "images" folder of the path becomes "labels".
    at = len(parts) - 2 - parts[-2::-1].index("images")
    parts[at] = "labels"
    return posixpath.splitext("/".join(parts))[0] + ".txt"


def _read_names(archive: SafeArchive) -> dict[int, str]:
    documents = [
        m.path for m in archive.members if posixpath.basename(m.path) in ("data.yaml", "data.yml")
    ]
    if len(documents) != 1:
        raise ImportRejected(
            [Problem("archive", "data.yaml", "a YOLO archive needs exactly one data.yaml")]
        )
    (document,) = documents
    config = yaml_from_archive(archive, document)
    raw = config.get("names") if isinstance(config, dict) else None
    if isinstance(raw, list):
        raw = dict(enumerate(raw))
    if not isinstance(raw, dict) or not raw:
        raise ImportRejected(
            [Problem(document, "names", "names must be a list or a mapping id: name")]
        )
    names: dict[int, str] = {}
    for key, name in raw.items():
        if not isinstance(key, int) or isinstance(key, bool) or not isinstance(name, str | int):
            raise ImportRejected(
                [Problem(document, "names", f"entry {quoted(key)}: {quoted(name)} is not id: name")]
            )
        names[key] = str(name).strip()
        problem = label_name_problem(names[key])
        if problem is not None:
            raise ImportRejected([Problem(document, "names", f"entry {quoted(key)}: {problem}")])
    return names


def _read_labels(
    content: bytes, path: str, image: int, names: dict[int, str], dataset: Dataset
) -> None:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        dataset.problems.append(Problem(path, "file", "not UTF-8 text"))
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        record = f"{path}:{number}"
        fields = line.split()
        try:
            class_id = int(fields[0])
            coordinates = [float(v) for v in fields[1:]]
        except ValueError:
            dataset.problems.append(
                Problem(record, "line", "expected: class x1 y1 ... xn yn (numbers)")
            )
            continue
        problem = None
        if class_id not in names:
            dataset.problems.append(
                Problem(record, "class", f"no class {class_id} in data.yaml names")
            )
            continue
        if len(coordinates) % 2:
            problem = f"an odd number of coordinates ({len(coordinates)})"
        elif len(coordinates) < 6:
            problem = f"{len(coordinates) // 2} points; a polygon needs at least 3"
        elif not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in coordinates):
            problem = (
                "a coordinate outside [0, 1]; YOLO coordinates are fractions of the image size"
            )
        if problem is not None:
            dataset.problems.append(Problem(record, "points", problem))
            continue
        dataset.annotations.append(
            DatasetAnnotation(
                record=record,
                field="points",
                image=image,
                class_name=names[class_id],
                polygons=[coordinates],
                normalised=True,
            )
        )
