"""Crops nobody uses expire: asking for a crop again or fetching its embedding records a
use (at most one write an hour), and the hourly sweep deletes the finished crops unused
for SAMLABEL_CROP_TTL_DAYS with their files, keeping recent ones and jobs in progress."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.utils import timezone

from tests.webapp.factories_images import stored_files
from webapp.crops import tasks
from webapp.crops.models import CropEmbedding
from webapp.images.models import Image

pytestmark = pytest.mark.django_db

WINDOW = [3000, 2000, 3300, 2200]


@pytest.fixture
def image(make_project: Any, make_image_row: Any, media_root: Path) -> Image:
    return make_image_row(make_project(), width=6000, height=4000, status="ready")


@pytest.fixture(autouse=True)
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(tasks.encode_crop, "delay", lambda crop_id: sent.append(crop_id))
    return sent


def crops_url(image: Image, tail: str = "") -> str:
    return f"/api/projects/{image.project_id}/images/{image.pk}/crops/{tail}"


def finished_crop(image: Image, x0: int = 0) -> CropEmbedding:
    """A done crop of ``image`` at column ``x0`` whose embedding file is stored."""
    crop = CropEmbedding.objects.create(
        image=image, model=image.project.model, x0=x0, y0=0, x1=x0 + 1024, y1=1024
    )
    assert crop.claim()
    assert crop.store(np.zeros((256, 64, 64), dtype=np.float32), seconds=1.0)
    return crop


def last_used(crop: CropEmbedding, when: datetime) -> None:
    CropEmbedding.objects.filter(pk=crop.pk).update(last_used_at=when)


def crop_files(media_root: Path) -> list[Path]:
    return [p for p in stored_files(media_root) if p.parts[-3] == "crops"]


def test_the_sweep_deletes_crops_unused_for_the_ttl_with_their_files_and_keeps_the_rest(
    image: Image, media_root: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SAMLABEL_CROP_TTL_DAYS = 30
    now = timezone.now()
    ttl = timedelta(days=30)
    old = finished_crop(image, x0=0)
    recent = finished_crop(image, x0=1024)
    failed_long_ago = CropEmbedding.objects.create(
        image=image, model=image.project.model, x0=2048, y0=0, x1=3072, y1=1024
    )
    assert failed_long_ago.claim() and failed_long_ago.fail("no weights")
    running = CropEmbedding.objects.create(
        image=image, model=image.project.model, x0=3072, y0=0, x1=4096, y1=1024
    )
    assert running.claim()
    pending = CropEmbedding.objects.create(
        image=image, model=image.project.model, x0=4096, y0=0, x1=5120, y1=1024
    )
    for crop in (old, failed_long_ago, running, pending):
        last_used(crop, now - ttl - timedelta(hours=1))
    last_used(recent, now - ttl + timedelta(hours=1))
    old_file = Path(media_root, CropEmbedding.objects.get(pk=old.pk).file.name)
    assert old_file.exists() and len(crop_files(media_root)) == 2

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.delete_unused_crops() == 2

    assert set(CropEmbedding.objects.values_list("pk", flat=True)) == {
        recent.pk,
        running.pk,
        pending.pk,
    }
    assert not old_file.exists()
    assert crop_files(media_root) == [Path(media_root, recent.file.name)]


def test_a_ttl_of_zero_keeps_every_crop(image: Image, settings: Any) -> None:
    settings.SAMLABEL_CROP_TTL_DAYS = 0
    crop = finished_crop(image)
    last_used(crop, timezone.now() - timedelta(days=3650))
    assert tasks.delete_unused_crops() == 0
    assert CropEmbedding.objects.filter(pk=crop.pk).exists()


def test_a_new_crop_counts_as_used_now(image: Image, user_in: Any, api_client: Any) -> None:
    client = api_client(user_in(image.project, "annotator"))
    before = timezone.now()
    crop_id = client.post(crops_url(image), {"box": WINDOW}, format="json").json()["id"]
    assert CropEmbedding.objects.get(pk=crop_id).last_used_at >= before


def test_asking_for_a_crop_again_records_the_use(
    image: Image, user_in: Any, api_client: Any
) -> None:
    client = api_client(user_in(image.project, "viewer"))
    crop_id = client.post(crops_url(image), {"box": WINDOW}, format="json").json()["id"]
    long_ago = timezone.now() - timedelta(days=20)
    last_used(CropEmbedding.objects.get(pk=crop_id), long_ago)

    before = timezone.now()
    assert client.post(crops_url(image), {"box": WINDOW}, format="json").status_code == 200
    assert CropEmbedding.objects.get(pk=crop_id).last_used_at >= before


def test_fetching_the_embedding_records_the_use_a_304_too(
    image: Image, user_in: Any, api_client: Any
) -> None:
    crop = finished_crop(image, x0=2560)
    client = api_client(user_in(image.project, "viewer"))
    path = crops_url(image, f"{crop.pk}/embedding")
    last_used(crop, timezone.now() - timedelta(days=20))
    before = timezone.now()
    served = client.get(path)
    assert served.status_code == 200
    assert CropEmbedding.objects.get(pk=crop.pk).last_used_at >= before

    last_used(crop, timezone.now() - timedelta(days=20))
    before = timezone.now()
    assert client.get(path, HTTP_IF_NONE_MATCH=served["ETag"]).status_code == 304
    assert CropEmbedding.objects.get(pk=crop.pk).last_used_at >= before


def test_a_use_within_the_hour_writes_nothing(image: Image, user_in: Any, api_client: Any) -> None:
    crop = finished_crop(image, x0=2560)
    recently = timezone.now() - timedelta(minutes=30)
    last_used(crop, recently)
    client = api_client(user_in(image.project, "viewer"))
    assert client.get(crops_url(image, f"{crop.pk}/embedding")).status_code == 200
    assert CropEmbedding.objects.get(pk=crop.pk).last_used_at == recently


def test_an_outsider_fetching_the_embedding_records_no_use(
    image: Image, user_in: Any, api_client: Any
) -> None:
    crop = finished_crop(image, x0=2560)
    long_ago = timezone.now() - timedelta(days=20)
    last_used(crop, long_ago)
    outsider = api_client(user_in(image.project, "outsider"))
    assert outsider.get(crops_url(image, f"{crop.pk}/embedding")).status_code == 404
    assert CropEmbedding.objects.get(pk=crop.pk).last_used_at == long_ago
