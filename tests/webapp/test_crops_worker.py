"""End to end with real parts: large photos uploaded through the API are queued for
encoding, then someone asks for a crop of one; a real Celery worker (real Redis, real
MobileSAM weights) encodes the crop before the backlog of uploads, and what it stores is
SAM's embedding of exactly that crop's pixels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skimage.data
from django.conf import settings
from django.urls import reverse

from tests.webapp.celery_processes import broker_for_this_process, wait_for
from tests.webapp.factories_images import encoded, upload
from webapp.crops.models import CropEmbedding
from webapp.images.models import Image

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 4200, 2800  # coffee (600 × 400) seven times each way


def large_photo(seed: int) -> bytes:
    """A 4200 × 2800 JPEG of tiled coffee cups; each seed gives other content."""
    tiled = np.tile(skimage.data.coffee(), (7, 7, 1))
    tiled = np.roll(tiled, seed * 37, axis=1)
    return encoded(tiled, quality=90)


def test_a_worker_encodes_a_crop_before_the_backlog_of_uploads_and_stores_its_pixels(
    make_project: Any,
    user_in: Any,
    api_client: Any,
    media_root: Path,
    redis_server: Any,
    start_worker: Any,
) -> None:
    project = make_project(name="Large photos")
    owner = api_client(user_in(project, "owner"))
    viewer = api_client(user_in(project, "viewer"))
    with broker_for_this_process(redis_server.url):
        response = owner.post(
            reverse("image-list", kwargs={"project_pk": project.pk}),
            {"files": [upload(f"coffee{n}.jpg", large_photo(n)) for n in range(4)]},
            format="multipart",
        )
        assert response.status_code == 201
        ids = [result["id"] for result in response.json()["results"]]
        window = [1000, 700, 1500, 1100]
        asked = viewer.post(
            f"/api/projects/{project.pk}/images/{ids[0]}/crops/", {"box": window}, format="json"
        )
    assert asked.status_code == 201, asked.json()
    crop_id = asked.json()["id"]
    assert asked.json()["box"] == [768, 512, 1792, 1536]

    worker = start_worker(redis_server.url, media_root)
    wait_for(
        lambda: (
            not Image.objects.filter(status__in=["pending", "encoding"]).exists()
            and CropEmbedding.objects.filter(pk=crop_id, status__in=["done", "failed"]).exists()
        ),
        timeout=600,
        what="the crop and the four photos",
    )
    crop = CropEmbedding.objects.get(pk=crop_id)
    assert crop.status == "done", (crop.error, worker.text()[-3000:])
    # Its own queue: the crop did not wait for the four uploads queued before it.
    encoded_after = Image.objects.filter(status="ready", status_changed_at__gt=crop.finished_at)
    assert encoded_after.count() >= 2, worker.text()[-3000:]

    detail = viewer.get(f"/api/projects/{project.pk}/images/{ids[0]}/crops/{crop_id}/").json()
    served = viewer.get(detail["embedding_url"])
    assert served.status_code == 200
    stored = np.frombuffer(served.content, "<f2").astype(np.float32).reshape(256, 64, 64)

    # The same crop of the same pixels, encoded here with the worker's encoder.
    from export_onnx.encoder import encode
    from inference.images import load_image

    pixels = load_image(large_photo(0)).crop((768, 512, 1792, 1536))
    expected = encode([pixels], backend=settings.SAMLABEL_ENCODER_BACKEND)[0]
    cosine = float((stored * expected).sum() / np.linalg.norm(stored) / np.linalg.norm(expected))
    assert cosine > 0.999
    # And not the whole image's embedding.
    whole = Image.objects.get(pk=ids[0]).embedding_for(project.model)
    assert whole is not None
    full = whole.load().astype(np.float32).reshape(256, 64, 64)
    assert float((stored * full).sum() / np.linalg.norm(stored) / np.linalg.norm(full)) < 0.99
