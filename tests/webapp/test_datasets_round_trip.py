"""Export -> import into a new project -> export gives the same annotations."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.webapp.factories_exports import make_dataset
from webapp.exports.exporter import write_export
from webapp.exports.selection import ExportOptions
from webapp.imports.datasets import import_dataset

pytestmark = pytest.mark.django_db


def coco_export(project, mask_format: str) -> bytes:
    buffer = io.BytesIO()
    options = ExportOptions(format="coco", mask_format=mask_format, image_scope="all")
    write_export(buffer, project, options)
    return buffer.getvalue()


def by_image_and_class(archive: bytes) -> dict[tuple[int, int, str], list[str]]:
    """(width, height, class name) -> the sorted RLE counts of its annotations."""
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        document = json.loads(z.read("annotations.json"))
    images = {i["id"]: (i["width"], i["height"]) for i in document["images"]}
    classes = {c["id"]: c["name"] for c in document["categories"]}
    out: dict[tuple[int, int, str], list[str]] = {}
    for a in document["annotations"]:
        key = (*images[a["image_id"]], classes[a["category_id"]])
        out.setdefault(key, []).append(json.dumps(a["segmentation"], sort_keys=True))
    return {k: sorted(v) for k, v in out.items()}


@pytest.mark.parametrize("mask_format", ["rle", "polygon"])
def test_export_import_export_gives_the_same_annotations(
    mask_format, make_project, media_root, user_in
):
    source = make_project()
    make_dataset(source)
    first = coco_export(source, mask_format)

    target = make_project()
    counts = import_dataset(
        target, io.BytesIO(first), "export.zip", "coco", user=user_in(target, "owner")
    )
    assert counts.annotations_created == 4
    assert counts.images_created == 3
    second = coco_export(target, mask_format)
    assert by_image_and_class(second) == by_image_and_class(first)
