"""Importing a real third-party COCO dataset: labelme's instance-segmentation example
(PASCAL VOC photos annotated in labelme, converted by its labelme2coco.py), checked
against pycocotools' own reading of the same file.

The dataset comes from labelme's source archive on PyPI, fetched by the test when it
is not at hand; it is never copied into this repository.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pycocotools.coco import COCO

from tests.webapp.factories_imports import post_import
from webapp.annotations import rle as rle_codec
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.projects.models import Project

LABELME = "labelme-6.3.1"
KNOWN_COPY = Path("/tmp/labelme_src") / f"{LABELME}.tar.gz"
COCO_FOLDER = f"{LABELME}/examples/instance_segmentation/data_dataset_coco/"


@pytest.fixture(scope="session")
def labelme_coco(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of labelme's example COCO dataset (annotations.json, JPEGImages/...)."""
    tarball = KNOWN_COPY
    if not tarball.exists():
        folder = tmp_path_factory.mktemp("labelme-download")
        fetched = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "labelme==6.3.1",
                "-d",
                str(folder),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        tarball = folder / f"{LABELME}.tar.gz"
        if fetched.returncode != 0 or not tarball.exists():
            pytest.skip(f"labelme 6.3.1's source archive could not be downloaded: {fetched.stderr}")
    target = tmp_path_factory.mktemp("labelme")
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(COCO_FOLDER)]
        archive.extractall(target, members=members, filter="data")
    return target / COCO_FOLDER


def zipped(folder: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"data_dataset_coco/{path.relative_to(folder)}")
    return out.getvalue()


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


@pytest.mark.django_db
def test_labelmes_coco_example_imports_as_pycocotools_reads_it(
    labelme_coco: Path, make_project, user_in, api_client, media_root: Path
) -> None:
    project: Project = make_project(name="VOC")
    client = api_client(user_in(project, "manager"))
    reference = COCO(str(labelme_coco / "annotations.json"))
    annotations = reference.loadAnns(sorted(reference.getAnnIds()))
    used = {reference.cats[a["category_id"]]["name"] for a in annotations}

    upload = SimpleUploadedFile("voc.zip", zipped(labelme_coco))
    response = post_import(client, project, upload)

    assert response.status_code == 201, response.json()
    assert response.json() == {
        "images_created": len(reference.imgs),
        "images_matched": 0,
        "label_classes_created": len(used),
        "annotations_created": len(annotations),
    }
    assert len(annotations) == 12 and len(reference.imgs) == 3
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
        # The file's own "area" is labelme's rasterisation; compare with pycocotools'.
        assert abs(ours.area - expected.sum()) <= 0.02 * expected.sum()
    assert Image.objects.filter(project=project).count() == 3
