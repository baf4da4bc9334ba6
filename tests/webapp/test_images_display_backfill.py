"""Images stored before display copies existed get theirs from a command."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from PIL import Image as PILImage

from webapp.images.models import Image

pytestmark = pytest.mark.django_db


def stored(project: Any, name: str, file_format: str, orientation: int = 1) -> Image:
    """An Image row as an older version stored it: the original file, no display copy."""
    pixels = np.zeros((30, 40, 3), dtype=np.uint8)
    pixels[:, :20] = (255, 0, 0)
    out = io.BytesIO()
    picture = PILImage.fromarray(pixels)
    if orientation != 1:
        exif = PILImage.Exif()
        exif[0x0112] = orientation
        picture.save(out, file_format, exif=exif)
    else:
        picture.save(out, file_format)
    content = out.getvalue()
    turned = orientation in (5, 6, 7, 8)
    return Image.objects.create(
        project=project,
        file=ContentFile(content, name=f"original.{file_format.lower()}"),
        original_name=name,
        width=30 if turned else 40,
        height=40 if turned else 30,
        sha256=hashlib.sha256(content).hexdigest(),
        status="ready",
    )


def test_the_command_adds_the_missing_copies_once(make_project: Any, media_root: Path) -> None:
    project = make_project()
    tiff = stored(project, "scan.tif", "TIFF")
    turned = stored(project, "turned.png", "PNG", orientation=6)
    plain = stored(project, "plain.png", "PNG")
    out = io.StringIO()

    call_command("make_display_copies", stdout=out)
    again = io.StringIO()
    call_command("make_display_copies", str(project.pk), stdout=again)

    assert "made 2 display copies" in out.getvalue()
    assert "made 0 display copies" in again.getvalue()
    for image in (tiff, turned):
        image.refresh_from_db()
        with image.display.open("rb") as copy, PILImage.open(copy) as shown:
            assert shown.format == "PNG"
            assert shown.size == (image.width, image.height)
    plain.refresh_from_db()
    assert not plain.display
