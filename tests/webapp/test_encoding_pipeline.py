"""End to end with real parts: photos uploaded through the API, a real Celery worker
subprocess with a real Redis broker encodes them with the real MobileSAM weights, and
the embedding downloaded through the API is the one the model computes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse

from tests.webapp.celery_processes import broker_for_this_process, wait_for
from tests.webapp.factories_images import astronaut_jpeg, coffee_jpeg, upload
from webapp.images.models import Image

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# One positive click on each photo, (x, y) in original-image pixels: the astronaut's
# face and the coffee cup.
CLICKS = {"astronaut.jpg": (250, 120), "coffee.jpg": (300, 200)}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def test_uploaded_photos_are_encoded_by_a_worker_and_served_as_the_model_computes_them(
    make_project, user_in, api_client, media_root: Path, redis_server, start_worker
) -> None:
    from inference.encode import encode
    from inference.images import load_image
    from inference.predict import predict

    project = make_project(name="Real photos")
    owner = api_client(user_in(project, "owner"))
    photos = {"astronaut.jpg": astronaut_jpeg(), "coffee.jpg": coffee_jpeg()}
    with broker_for_this_process(redis_server.url):
        response = owner.post(
            reverse("image-list", kwargs={"project_pk": project.pk}),
            {"files": [upload(name, content) for name, content in photos.items()]},
            format="multipart",
        )
    assert response.status_code == 201
    ids = {r["name"]: r["id"] for r in response.json()["results"]}

    worker = start_worker(redis_server.url, media_root)
    wait_for(
        lambda: Image.objects.filter(pk__in=ids.values(), status="ready").count() == 2,
        timeout=180,
        what="both photos to be encoded",
    )

    for name, content in photos.items():
        url = reverse("image-embedding", kwargs={"project_pk": project.pk, "pk": ids[name]})
        served = owner.get(url)
        assert served.status_code == 200
        assert served["X-Embedding-Shape"] == "1,256,64,64"
        embedding = np.frombuffer(served.content, dtype="<f2").reshape(1, 256, 64, 64)

        picture = load_image(content)
        expected = encode([picture], project.model, device="cpu")
        assert np.allclose(embedding.astype(np.float32), expected, atol=1e-2)

        size = (picture.height, picture.width)
        served_masks = predict(embedding, [CLICKS[name]], [1], image_size=size).masks
        expected_masks = predict(expected, [CLICKS[name]], [1], image_size=size).masks
        for served_mask, expected_mask in zip(served_masks, expected_masks, strict=True):
            assert expected_mask.any()
            assert iou(served_mask, expected_mask) >= 0.99
    assert worker.text().count("encoded image") == 2
