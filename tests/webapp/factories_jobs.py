"""A project large enough that its export is still being written seconds after it
starts, for the tests that cancel an export or kill its worker mid-run."""

from __future__ import annotations

import numpy as np

from tests.webapp.factories_exports import annotate, make_picture_row
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.images.models import EncodingStatus, Image
from webapp.projects.models import LabelClass, Project


def make_big_project(project: Project, images: int = 40, per_image: int = 100) -> int:
    """``images`` 320 x 240 pictures with ``per_image`` annotations each (a disc of its
    own place and size); the number of annotations. The images count as encoded, so that
    no worker spends the test encoding them."""
    label = LabelClass.objects.create(project=project, name="thing")
    yy, xx = np.mgrid[:240, :320]
    rows = []
    for n in range(images):
        image = make_picture_row(project, f"photo{n:03d}.png", width=320, height=240)
        annotate(image, label, (yy - 120) ** 2 + (xx - 160) ** 2 <= 900)
        for k in range(1, per_image):
            mask = (yy - (17 * k) % 240) ** 2 + (xx - (29 * k) % 320) ** 2 <= (10 + k % 30) ** 2
            encoded = rle.encode(mask)
            rows.append(
                Annotation(
                    image=image,
                    label_class=label,
                    rle=encoded,
                    bbox=rle.bbox(encoded),
                    area=rle.area(encoded),
                )
            )
    Annotation.objects.bulk_create(rows, batch_size=500)
    Image.objects.filter(project=project).update(status=EncodingStatus.READY)
    return images * per_image
