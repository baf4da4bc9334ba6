"""Rows the annotation tests need beyond the shared factories of conftest.py: label
classes and image rows (with a tiny stored file; annotations never read its pixels).

Plain functions; they need the database (``pytest.mark.django_db``) and, for the file, a
temporary MEDIA_ROOT.
"""

from __future__ import annotations

import hashlib
import io
import itertools

from django.core.files.base import ContentFile
from PIL import Image as PILImage

from webapp.images.models import Image
from webapp.projects.models import LabelClass, Project

_serial = itertools.count(1)


def make_label_class(project: Project, name: str = "cat") -> LabelClass:
    return LabelClass.objects.create(project=project, name=name)


def make_image(project: Project, width: int = 64, height: int = 48) -> Image:
    """An image row that says it is ``width`` x ``height`` pixels; its stored file is a
    tiny PNG, because annotations only need the size."""
    buffer = io.BytesIO()
    PILImage.new("L", (2, 2)).save(buffer, format="PNG")
    serial = next(_serial)
    image = Image.objects.create(
        project=project,
        file=ContentFile(buffer.getvalue(), name="x.png"),
        original_name=f"image{serial}.png",
        width=width,
        height=height,
        sha256=hashlib.sha256(f"image {serial}".encode()).hexdigest(),
    )
    # An ImageField would have measured the 2x2 file; the size the test asked for wins.
    Image.objects.filter(pk=image.pk).update(width=width, height=height)
    image.refresh_from_db()
    return image
