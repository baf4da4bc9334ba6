"""Importing a COCO dataset as third-party tools write it (labelme's labelme2coco, CVAT,
Roboflow): photos in a JPEGImages folder, keys we do not use, placeholder categories,
hand-drawn polygons with fractional corners and several rings, crowd RLEs with
compressed counts and RLEs with plain list counts, and the tool's own area and bbox.
The import must read it as pycocotools does.

The dataset is built here from photos that scikit-image ships, with objects traced from
their pixels, so the test needs no download.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skimage.data
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from skimage import filters, measure, morphology

from tests.webapp.factories_imports import post_import
from webapp.annotations import rle as rle_codec
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.projects.models import Project

FOLDER = "data_dataset_coco"


def jpeg(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, format="JPEG", quality=92)
    return out.getvalue()


def traced_ring(region_mask: np.ndarray, tolerance: float = 0.6) -> list[float]:
    """The outline of a region as a labelme user would click it: corners with
    fractional pixel coordinates (x then y), simplified, flat [x1, y1, x2, y2, ...]."""
    padded = np.pad(region_mask.astype(float), 1)
    contour = max(measure.find_contours(padded, 0.5), key=len) - 1  # (row, col)
    contour = measure.approximate_polygon(contour, tolerance=tolerance)[:-1]
    # find_contours follows pixel centres; a person clicks on the visible edge, which
    # lies half a pixel further out, so the ring is drawn around pixel squares.
    return [round(float(v), 2) for row, col in contour for v in (col + 0.5, row + 0.5)]


def largest_regions(mask: np.ndarray, count: int) -> list[np.ndarray]:
    labels = measure.label(mask)
    regions = sorted(measure.regionprops(labels), key=lambda r: r.area, reverse=True)
    return [labels == region.label for region in regions[:count]]


def third_party_dataset() -> tuple[dict[str, Any], dict[str, bytes]]:
    """(the COCO document, {file name: JPEG bytes}) of three photos and twelve objects."""
    coins = skimage.data.coins()  # 384 x 303, grey: coins on a dark table
    coffee = skimage.data.coffee()  # 600 x 400: a cup on a saucer
    chelsea = skimage.data.chelsea()  # 451 x 300: a cat's face
    photos = {
        "JPEGImages/2011_000003.jpg": coins,
        "JPEGImages/2011_000006.jpg": coffee,
        "JPEGImages/2011_000025.jpg": chelsea,
    }
    images = [
        {
            "id": number,
            "file_name": name,
            "width": int(pixels.shape[1]),
            "height": int(pixels.shape[0]),
            "license": 0,
            "date_captured": None,
            "flickr_url": None,
            "coco_url": None,
        }
        for number, (name, pixels) in enumerate(photos.items())
    ]
    categories = [
        {"id": -1, "name": "__ignore__", "supercategory": None},
        {"id": 0, "name": "_background_", "supercategory": None},
        {"id": 1, "name": "coin", "supercategory": None},
        {"id": 2, "name": "cup", "supercategory": None},
        {"id": 3, "name": "cat", "supercategory": None},
    ]
    annotations: list[dict[str, Any]] = []

    def add(image_id: int, category_id: int, segmentation: Any, iscrowd: int = 0) -> None:
        # The tool's own area and bbox, rounded as many tools write them.
        if isinstance(segmentation, list):
            height, width = photos[images[image_id]["file_name"]].shape[:2]
            rle = coco_mask.merge(coco_mask.frPyObjects(segmentation, height, width))
        elif isinstance(segmentation["counts"], str):
            rle = {**segmentation, "counts": segmentation["counts"].encode()}
        else:
            rle = coco_mask.frPyObjects(segmentation, *segmentation["size"])
        annotations.append(
            {
                "id": len(annotations),
                "image_id": image_id,
                "category_id": category_id,
                "segmentation": segmentation,
                "area": float(coco_mask.area(rle)) + 0.5,
                "bbox": [round(float(v), 1) for v in coco_mask.toBbox(rle)],
                "iscrowd": iscrowd,
            }
        )

    # Coins: seven hand-traced polygons, one ring each.
    bright = morphology.remove_small_holes(coins > filters.threshold_otsu(coins), max_size=200)
    for region in largest_regions(morphology.opening(bright, morphology.disk(2)), 7):
        add(0, 1, [traced_ring(region)])
    # The cup: one instance drawn as two rings (the cup and the saucer part apart).
    grey = coffee.mean(axis=2)
    light = morphology.opening(grey > 200, morphology.disk(3))
    cup, saucer = largest_regions(light, 2)
    add(1, 2, [traced_ring(cup, 1.0), traced_ring(saucer, 1.0)])
    # Dark coffee surface as a crowd RLE with compressed counts.
    dark = morphology.opening(grey < 60, morphology.disk(2))
    crowd = coco_mask.encode(np.asfortranarray(largest_regions(dark, 1)[0].astype(np.uint8)))
    add(1, 2, {"size": [int(n) for n in crowd["size"]], "counts": crowd["counts"].decode()}, 1)
    # The cat: its two eyes' surroundings as RLEs with plain list counts, as CVAT writes.
    face = chelsea.mean(axis=2)
    for region in largest_regions(morphology.opening(face < 70, morphology.disk(2)), 3):
        flat = region.ravel(order="F")
        changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        runs = np.diff(np.concatenate(([0], changes, [flat.size]))).tolist()
        counts = [0, *runs] if flat[0] else runs
        add(2, 3, {"size": list(region.shape), "counts": counts})
    document = {
        "info": {"description": "made by a labelling tool", "version": None, "year": 2011},
        "licenses": [{"url": None, "id": 0, "name": None}],
        "images": images,
        "type": "instances",
        "annotations": annotations,
        "categories": categories,
    }
    return document, {name: jpeg(pixels) for name, pixels in photos.items()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dataset's folder: annotations.json and JPEGImages/."""
    folder = tmp_path_factory.mktemp("third-party") / FOLDER
    document, files = third_party_dataset()
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    (folder / "annotations.json").write_text(json.dumps(document, indent=2))
    return folder


def zipped(folder: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{FOLDER}/{path.relative_to(folder)}")
    return out.getvalue()


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


@pytest.mark.django_db
def test_a_third_party_coco_dataset_imports_as_pycocotools_reads_it(
    dataset: Path, make_project, user_in, api_client, media_root: Path
) -> None:
    project: Project = make_project(name="VOC")
    client = api_client(user_in(project, "manager"))
    reference = COCO(str(dataset / "annotations.json"))
    annotations = reference.loadAnns(sorted(reference.getAnnIds()))
    used = {reference.cats[a["category_id"]]["name"] for a in annotations}
    kinds = {
        "polygon" if isinstance(a["segmentation"], list) else type(a["segmentation"]["counts"])
        for a in annotations
    }
    assert kinds == {"polygon", str, list}  # every kind of segmentation is exercised
    assert len(annotations) == 12 and len(reference.imgs) == 3

    upload = SimpleUploadedFile("voc.zip", zipped(dataset))
    response = post_import(client, project, upload)

    assert response.status_code == 201, response.json()
    assert response.json()["result"] == {
        "images_created": len(reference.imgs),
        "images_matched": 0,
        "label_classes_created": len(used),
        "annotations_created": len(annotations),
    }
    assert set(project.label_classes.values_list("name", flat=True)) == {"coin", "cup", "cat"}
    stored = list(Annotation.objects.filter(image__project=project).order_by("id"))
    for ours, theirs in zip(stored, annotations, strict=True):
        info = reference.imgs[theirs["image_id"]]
        assert ours.image.original_name == Path(info["file_name"]).name
        assert (ours.image.width, ours.image.height) == (info["width"], info["height"])
        assert ours.label_class.name == reference.cats[theirs["category_id"]]["name"]
        expected = reference.annToMask(theirs).astype(bool)
        mask = rle_codec.decode(ours.rle)
        assert mask.shape == expected.shape
        assert iou(mask, expected) >= 0.98, theirs["id"]
        # The file's own "area" is the tool's; ours is pycocotools' count of pixels.
        assert abs(ours.area - expected.sum()) <= 0.02 * expected.sum()
        assert ours.area != theirs["area"]
    assert Image.objects.filter(project=project).count() == 3
