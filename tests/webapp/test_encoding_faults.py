"""Faults with real parts: a worker killed in the middle of a batch, and a broker that
is down while users upload. Each test runs its own redis-server on a free port."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest
from django.urls import reverse

from tests.webapp.celery_processes import broker_for_this_process, wait_for
from tests.webapp.factories_images import small_png, upload
from webapp.images.models import Image, ImageEmbedding

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The worker that takes over runs beat, which sweeps every second for images stuck
# longer than STUCK_AFTER seconds.
SWEEPING = {"SAMLABEL_STUCK_AFTER_SECONDS": "2", "SAMLABEL_SWEEP_EVERY_SECONDS": "1"}


def encodes_per_image(*logs: str) -> Counter[int]:
    """How often each image was encoded, from the workers' "encoded image N" lines."""
    return Counter(int(n) for log in logs for n in re.findall(r"encoded image (\d+) ", log))


def post_images(client, project, *files):
    return client.post(
        reverse("image-list", kwargs={"project_pk": project.pk}),
        {"files": list(files)},
        format="multipart",
    )


def test_a_worker_killed_mid_batch_is_replaced_and_every_image_is_encoded_once(
    make_project, user_in, api_client, media_root: Path, redis_server, start_worker
) -> None:
    project = make_project(name="Batch")
    owner = api_client(user_in(project, "owner"))
    files = [upload(f"{seed}.png", small_png(seed), "image/png") for seed in range(3)]
    with broker_for_this_process(redis_server.url):
        response = post_images(owner, project, *files)
    assert response.status_code == 201
    ids = [r["id"] for r in response.json()["results"]]
    images = Image.objects.filter(pk__in=ids)

    first = start_worker(redis_server.url, media_root)
    wait_for(
        lambda: (
            images.filter(status="ready").exists() and images.filter(status="encoding").exists()
        ),
        timeout=180,
        what="the first worker to be in the middle of the batch",
    )
    first.kill()
    assert images.filter(status="ready").count() < len(ids)
    second = start_worker(redis_server.url, media_root, beat=True, **SWEEPING)
    wait_for(
        lambda: images.filter(status="ready").count() == len(ids),
        timeout=180,
        what="every image to be encoded after the first worker died",
    )

    assert encodes_per_image(first.text(), second.text()) == Counter(dict.fromkeys(ids, 1))
    assert ImageEmbedding.objects.filter(image__in=ids).count() == len(ids)


def test_an_upload_while_redis_is_down_succeeds_and_is_encoded_once_it_is_back(
    make_project, user_in, api_client, media_root: Path, redis_server, start_worker, caplog
) -> None:
    project = make_project(name="Outage")
    owner = api_client(user_in(project, "owner"))
    redis_server.stop()

    with broker_for_this_process(redis_server.url):
        started = time.monotonic()
        response = post_images(owner, project, upload("a.png", small_png(11), "image/png"))
        took = time.monotonic() - started

    assert response.status_code == 201, response.content
    image_id = response.json()["results"][0]["id"]
    assert Image.objects.get(pk=image_id).status == "pending"
    assert f"could not queue image {image_id}" in caplog.text
    print(f"upload with the broker down answered in {took:.1f}s")

    redis_server.start()
    worker = start_worker(redis_server.url, media_root, beat=True, **SWEEPING)
    wait_for(
        lambda: Image.objects.get(pk=image_id).status == "ready",
        timeout=180,
        what="the sweep to queue the image again and the worker to encode it",
    )

    assert encodes_per_image(worker.text()) == Counter({image_id: 1})
    assert "queued 1 stuck image(s) again" in worker.text()
