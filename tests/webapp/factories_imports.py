"""Datasets for the import tests, made in memory: COCO documents, zip archives, PNGs.
Masks are encoded with pycocotools, an implementation independent of ours."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pycocotools import mask as coco_mask

from tests.webapp.factories_images import small_png
from webapp.images.uploads import ingest_upload
from webapp.projects.models import Project

WIDTH, HEIGHT = 40, 30


def coco_rle(mask: np.ndarray, *, compressed: bool = True) -> dict[str, Any]:
    """pycocotools' RLE of an (H, W) bool mask; ``compressed=False`` gives list counts."""
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    if compressed:
        return {"size": [int(n) for n in rle["size"]], "counts": rle["counts"].decode("ascii")}
    flat = mask.ravel(order="F").astype(bool)
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], changes, [flat.size]))).tolist()
    if flat[0]:
        runs = [0, *runs]
    return {"size": list(mask.shape), "counts": runs}


def box_mask(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """Pixels x0..x1-1, y0..y1-1 set, in a HEIGHT x WIDTH mask."""
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def coco_document(
    annotations: list[dict[str, Any]],
    images: list[dict[str, Any]] | None = None,
    categories: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "images": images
        if images is not None
        else [{"id": 1, "file_name": "photo.png", "width": WIDTH, "height": HEIGHT}],
        "categories": categories
        if categories is not None
        else [{"id": 7, "name": "cat"}, {"id": 8, "name": "dog"}],
        "annotations": annotations,
    }


def annotation(number: int = 1, **fields: Any) -> dict[str, Any]:
    values = {
        "id": number,
        "image_id": 1,
        "category_id": 7,
        "segmentation": coco_rle(box_mask(2, 3, 12, 9)),
        "area": 1,  # wrong on purpose: the import derives area and bbox itself
        "bbox": [0, 0, 1, 1],
        "iscrowd": 0,
    }
    values.update(fields)
    return values


def json_file(document: dict[str, Any] | str, name: str = "annotations.json") -> SimpleUploadedFile:
    text = document if isinstance(document, str) else json.dumps(document)
    return SimpleUploadedFile(name, text.encode(), content_type="application/json")


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def zip_file(content: bytes, name: str = "dataset.zip") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/zip")


def store_image(project: Project, name: str = "photo.png", seed: int = 0) -> Any:
    """An image already in ``project`` (WIDTH x HEIGHT), uploaded the ordinary way."""
    result = ingest_upload(project, SimpleUploadedFile(name, small_png(seed)), None)
    assert result.outcome == "created", result.reason
    return result.image


def post_import(client: Any, project: Project, upload: Any, **fields: str) -> Any:
    return client.post(
        reverse("api-project-imports", kwargs={"project_pk": project.pk}),
        {"file": upload, **fields},
        format="multipart",
    )


def problem_records(response: Any) -> set[str]:
    return {p["record"] for p in response.json()["problems"]}


def coco_archive(count: int = 2, *, bad_annotation: bool = False) -> bytes:
    """A COCO zip of ``count`` new WIDTH x HEIGHT PNGs, one box of "cat" on each; with
    ``bad_annotation`` the last annotation names a category that does not exist."""
    images = [
        {"id": n, "file_name": f"images/photo{n}.png", "width": WIDTH, "height": HEIGHT}
        for n in range(1, count + 1)
    ]
    annotations = [annotation(n, image_id=n) for n in range(1, count + 1)]
    if bad_annotation:
        annotations[-1]["category_id"] = 99
    members = {"annotations.json": json.dumps(coco_document(annotations, images)).encode()}
    for n in range(1, count + 1):
        members[f"images/photo{n}.png"] = small_png(100 + n)
    return zip_bytes(members)


def import_url(project: Project, import_id: int | None = None) -> str:
    if import_id is None:
        return reverse("api-project-imports", kwargs={"project_pk": project.pk})
    return reverse("api-project-import", args=[project.pk, import_id])
