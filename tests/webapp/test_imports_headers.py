"""An archive's images are sized from their headers before any pixel is decoded: an
image too large is refused early, and EXIF orientation is taken into account."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest

from tests.webapp.factories_images import rotated_jpeg, small_png, stored_files
from tests.webapp.factories_imports import (
    annotation,
    coco_document,
    coco_rle,
    post_import,
    zip_bytes,
    zip_file,
)
from webapp.images.models import Image
from webapp.imports import datasets
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(make_project: Any, media_root: Path) -> Project:
    return make_project(name="Headers")


@pytest.fixture
def owner(project: Project, user_in: Any, api_client: Any) -> Any:
    return api_client(user_in(project, "owner"))


def png_header_only(width: int, height: int) -> bytes:
    """A grey PNG of a few dozen bytes whose header says ``width`` x ``height``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_an_oversized_image_is_refused_before_any_image_is_decoded(
    owner: Any, project: Project, media_root: Path
) -> None:
    # 11000 x 10000 = 110 megapixels: over the 100-megapixel limit, yet under Pillow's
    # own bomb limit, so only our header check stands in the way.
    document = coco_document(
        [annotation(1), annotation(2, image_id=2)],
        images=[
            {"id": 1, "file_name": "small.png"},
            {"id": 2, "file_name": "huge.png"},
        ],
    )
    archive = zip_bytes(
        {
            "annotations.json": json.dumps(document).encode(),
            "small.png": small_png(),
            "huge.png": png_header_only(11000, 10000),
        }
    )

    with mock.patch.object(datasets, "prepare_image", wraps=datasets.prepare_image) as decode:
        response = post_import(owner, project, zip_file(archive))

    assert response.status_code == 400
    (problem,) = [p for p in response.json()["problems"] if p["record"] == "images[1]"]
    assert "11000×10000 = 110,000,000 pixels, over the limit" in problem["problem"]
    decode.assert_not_called()
    assert not Image.objects.exists()
    assert stored_files(media_root) == []


def test_header_size_reads_no_pixels_and_turns_by_exif() -> None:
    with mock.patch("PIL.ImageFile.ImageFile.load") as load:
        assert datasets.header_size(small_png(size=(40, 30))) == (40, 30)
        assert datasets.header_size(rotated_jpeg()) == (20, 60)  # stored 60 x 20, turned
    load.assert_not_called()


def test_an_exif_turned_photo_is_checked_in_the_frame_the_user_sees(
    owner: Any, project: Project
) -> None:
    mask = np.zeros((60, 20), dtype=bool)  # the turned photo: 20 wide, 60 high
    mask[40:55, 2:18] = True
    document = coco_document(
        [annotation(1, segmentation=coco_rle(mask))],
        images=[{"id": 1, "file_name": "turned.jpg", "width": 20, "height": 60}],
    )
    archive = zip_bytes(
        {"annotations.json": json.dumps(document).encode(), "turned.jpg": rotated_jpeg()}
    )

    response = post_import(owner, project, zip_file(archive))

    assert response.status_code == 201, response.json()
    image = Image.objects.get(project=project)
    assert (image.width, image.height) == (20, 60)
