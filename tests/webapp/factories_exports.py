"""Rows the export tests share: a project with two label classes, images with real pixels,
and annotations whose masks are known (one with a hole, one in two parts)."""

from __future__ import annotations

import hashlib
import io
import itertools
from dataclasses import dataclass, field

import numpy as np
from django.core.files.base import ContentFile
from PIL import Image as PILImage

from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.projects.models import LabelClass, Project

_serial = itertools.count(1)


def make_picture_row(project: Project, name: str, width: int = 40, height: int = 30) -> Image:
    """An Image row whose stored file is a ``width`` x ``height`` PNG with its own pixels."""
    serial = next(_serial)
    rng = np.random.default_rng(serial)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    content = buffer.getvalue()
    return Image.objects.create(
        project=project,
        file=ContentFile(content, name="upload.png"),
        original_name=name,
        width=width,
        height=height,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def annotate(image: Image, label: LabelClass, mask: np.ndarray) -> Annotation:
    encoded = rle.encode(mask)
    return Annotation.objects.create(
        image=image,
        label_class=label,
        rle=encoded,
        bbox=rle.bbox(encoded),
        area=rle.area(encoded),
    )


def ring_with_hole(height: int = 30, width: int = 40) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[4:26, 5:35] = True
    mask[10:20, 12:28] = False  # the hole
    return mask


def two_parts(height: int = 30, width: int = 40) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    yy, xx = np.mgrid[:height, :width]
    mask |= (yy - 10) ** 2 + (xx - 10) ** 2 <= 36
    mask[20:28, 25:38] = True
    return mask


def square(y: int, x: int, size: int, height: int = 30, width: int = 40) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[y : y + size, x : x + size] = True
    return mask


@dataclass
class Dataset:
    project: Project
    cat: LabelClass
    dog: LabelClass
    images: list[Image]
    masks: dict[int, np.ndarray] = field(default_factory=dict)  # annotation id -> mask
    annotations: list[Annotation] = field(default_factory=list)

    def add(self, image: Image, label: LabelClass, mask: np.ndarray) -> Annotation:
        annotation = annotate(image, label, mask)
        self.masks[annotation.pk] = mask
        self.annotations.append(annotation)
        return annotation


def make_dataset(project: Project) -> Dataset:
    """Three images (the last without annotations, two sharing a name) and four
    annotations: on image 0 a cat with a hole and a dog in two parts overlapping it; on
    image 1 a dog square. The dog class comes first in the project's order."""
    dog = LabelClass.objects.create(project=project, name="dog", order=0)
    cat = LabelClass.objects.create(project=project, name="cat", order=1)
    images = [
        make_picture_row(project, "street.png"),
        make_picture_row(project, "dir/street.jpg", width=32, height=24),
        make_picture_row(project, "empty.png", width=16, height=12),
    ]
    data = Dataset(project=project, cat=cat, dog=dog, images=images)
    data.add(images[0], cat, ring_with_hole())
    data.add(images[0], dog, two_parts())
    data.add(images[1], dog, square(3, 4, 10, height=24, width=32))
    data.add(images[1], cat, square(12, 15, 8, height=24, width=32))
    return data
