"""Imported pictures are prepared as uploads are: a TIFF, or a PNG that EXIF turns, gets
an upright PNG display copy, which the annotator shows and the worker encodes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.webapp.factories_imports import post_import, zip_bytes, zip_file
from webapp.images.models import Image

pytestmark = pytest.mark.django_db


def picture(file_format: str, orientation: int = 1) -> bytes:
    """A 40 x 30 picture, red on its left half, in ``file_format``."""
    pixels = np.zeros((30, 40, 3), dtype=np.uint8)
    pixels[:, :20] = (255, 0, 0)
    image = PILImage.fromarray(pixels)
    out = io.BytesIO()
    if orientation != 1:
        exif = PILImage.Exif()
        exif[0x0112] = orientation
        image.save(out, file_format, exif=exif)
    else:
        image.save(out, file_format)
    return out.getvalue()


def test_an_imported_tiff_and_a_turned_png_get_upright_display_copies(
    make_project: Any, user_in: Any, api_client: Any, media_root: Path
) -> None:
    project = make_project()
    box = "0 0.1 0.1 0.4 0.1 0.4 0.4 0.1 0.4\n"
    archive = zip_bytes(
        {
            "data.yaml": b"names: [cat]\n",
            "images/train/scan.tif": picture("TIFF"),
            "images/train/turned.png": picture("PNG", orientation=6),
            "images/train/plain.png": picture("PNG"),
            "labels/train/scan.txt": box.encode(),
            "labels/train/turned.txt": box.encode(),
            "labels/train/plain.txt": box.encode(),
        }
    )

    response = post_import(
        api_client(user_in(project, "manager")), project, zip_file(archive), format="yolo"
    )

    assert response.status_code == 201, response.content
    images = {image.original_name: image for image in Image.objects.filter(project=project)}
    assert not images["plain.png"].display
    for name in ("scan.tif", "turned.png"):
        assert images[name].display, name
        with images[name].display.open("rb") as stored, PILImage.open(stored) as shown:
            assert shown.format == "PNG"
            assert shown.size == (images[name].width, images[name].height)
    # Orientation 6 turns the picture a quarter clockwise: 30 wide, 40 high, red on top.
    turned = images["turned.png"]
    assert (turned.width, turned.height) == (30, 40)
    with turned.display.open("rb") as stored, PILImage.open(stored) as shown:
        pixels = np.asarray(shown.convert("RGB"))
    assert (pixels[5, 15] == (255, 0, 0)).all()
    assert (pixels[35, 15] == (0, 0, 0)).all()
