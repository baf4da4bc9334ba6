"""The crops API per role: anyone who reads the image asks for the crop of a window (found
or made, queued once), follows it and fetches its embedding once done; outsiders get 404;
windows that get no crop are refused with the reason, storing nothing. Deleting the image
deletes its crops' files; the sweep queues stuck crops again."""

from __future__ import annotations

from datetime import timedelta
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


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(tasks.encode_crop, "delay", lambda crop_id: sent.append(crop_id))
    return sent


def url(image: Image, tail: str = "") -> str:
    return f"/api/projects/{image.project_id}/images/{image.pk}/crops/{tail}"


def finish(crop: CropEmbedding, value: float = 0.5) -> None:
    """Store an embedding for ``crop`` as its worker would."""
    assert crop.claim()
    assert crop.store(np.full((256, 64, 64), value, dtype=np.float32), seconds=1.0)


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", 201), ("annotator", 201), ("owner", 201), ("outsider", 404)],
)
def test_members_ask_for_the_crop_of_a_window_and_outsiders_get_404(
    role: str, expected: int, image: Image, user_in: Any, api_client: Any, queued: list[int]
) -> None:
    client = api_client(user_in(image.project, role))
    response = client.post(url(image), {"box": WINDOW}, format="json")
    assert response.status_code == expected
    if expected == 404:
        assert not CropEmbedding.objects.exists() and queued == []
        return
    body = response.json()
    assert body["status"] == "pending" and body["embedding_url"] is None
    assert body["box"] == [2560, 1536, 3584, 2560]  # the grid square around the window
    assert queued == [body["id"]]


def test_the_same_crop_is_found_again_and_queued_once(
    image: Image, user_in: Any, api_client: Any, queued: list[int]
) -> None:
    client = api_client(user_in(image.project, "annotator"))
    first = client.post(url(image), {"box": WINDOW}, format="json")
    nearby = client.post(url(image), {"box": [3050, 2010, 3200, 2100]}, format="json")
    other = api_client(user_in(image.project, "viewer"))
    again = other.post(url(image), {"box": WINDOW}, format="json")
    assert (first.status_code, nearby.status_code, again.status_code) == (201, 200, 200)
    assert first.json()["id"] == nearby.json()["id"] == again.json()["id"]
    assert queued == [first.json()["id"]]
    assert CropEmbedding.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"box": [0, 0, 5000, 3000]}, "zoom in further"),
        ({"box": [7000, 0, 8000, 10]}, "outside the image"),
        ({"box": [10, 10, 5, 20]}, "x0 < x1"),
        ({"box": [1, 2, 3]}, "at least 4"),
        ({"box": "everything"}, "list"),
        ({}, "required"),
    ],
)
def test_a_window_that_gets_no_crop_is_refused_with_the_reason_and_nothing_stored(
    body: dict[str, Any], words: str, image: Image, user_in: Any, api_client: Any, queued: list[int]
) -> None:
    client = api_client(user_in(image.project, "annotator"))
    response = client.post(url(image), body, format="json")
    assert response.status_code == 400
    assert words in str(response.json()["box"])
    assert not CropEmbedding.objects.exists() and queued == []


def test_a_small_image_gets_no_crop(
    make_image_row: Any, image: Image, user_in: Any, api_client: Any, queued: list[int]
) -> None:
    small = make_image_row(image.project, width=1600, height=1200)
    client = api_client(user_in(image.project, "annotator"))
    response = client.post(url(small), {"box": [0, 0, 100, 100]}, format="json")
    assert response.status_code == 400
    assert "enough detail whole" in response.json()["box"][0]


def test_an_image_of_another_project_is_404_even_to_a_member(
    make_project: Any, make_image_row: Any, image: Image, user_in: Any, api_client: Any
) -> None:
    elsewhere = make_image_row(make_project(), width=6000, height=4000)
    client = api_client(user_in(image.project, "owner"))
    path = f"/api/projects/{image.project_id}/images/{elsewhere.pk}/crops/"
    assert client.post(path, {"box": WINDOW}, format="json").status_code == 404


def test_the_embedding_is_409_until_done_then_served_like_the_images(
    image: Image, user_in: Any, api_client: Any, queued: list[int]
) -> None:
    client = api_client(user_in(image.project, "viewer"))
    crop_id = client.post(url(image), {"box": WINDOW}, format="json").json()["id"]
    pending = client.get(url(image, f"{crop_id}/embedding"))
    assert pending.status_code == 409 and pending.json()["status"] == "pending"

    finish(CropEmbedding.objects.get(pk=crop_id), 0.25)
    detail = client.get(url(image, f"{crop_id}/")).json()
    assert detail["status"] == "done" and detail["sha256"]
    served = client.get(detail["embedding_url"])
    assert served.status_code == 200
    assert served["X-Embedding-Shape"] == "1,256,64,64" and served["X-Embedding-Dtype"] == "float16"
    values = np.frombuffer(
        b"".join(served.streaming_content if served.streaming else [served.content]), "<f2"
    )
    assert values.shape == (256 * 64 * 64,) and np.all(values == np.float16(0.25))
    again = client.get(detail["embedding_url"], HTTP_IF_NONE_MATCH=served["ETag"])
    assert again.status_code == 304

    outsider = api_client(user_in(image.project, "outsider"))
    assert outsider.get(url(image, f"{crop_id}/")).status_code == 404
    assert outsider.get(detail["embedding_url"]).status_code == 404


def test_a_failed_crop_asked_for_again_is_queued_again(
    image: Image, user_in: Any, api_client: Any, queued: list[int]
) -> None:
    client = api_client(user_in(image.project, "annotator"))
    crop_id = client.post(url(image), {"box": WINDOW}, format="json").json()["id"]
    crop = CropEmbedding.objects.get(pk=crop_id)
    assert crop.claim() and crop.fail("the worker fell over")
    assert client.get(url(image, f"{crop_id}/")).json()["error"] == "the worker fell over"
    again = client.post(url(image), {"box": WINDOW}, format="json")
    assert again.status_code == 201 and again.json()["status"] == "pending"
    assert queued == [crop_id, crop_id]


def test_deleting_the_image_deletes_its_crops_files(
    image: Image, user_in: Any, api_client: Any, queued: list[int], media_root: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    client = api_client(user_in(image.project, "annotator"))
    crop_id = client.post(url(image), {"box": WINDOW}, format="json").json()["id"]
    finish(CropEmbedding.objects.get(pk=crop_id))
    crop_files = [p for p in stored_files(media_root) if p.parts[-3] == "crops"]
    assert len(crop_files) == 1

    owner = api_client(user_in(image.project, "owner"))
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            owner.delete(f"/api/projects/{image.project_id}/images/{image.pk}/").status_code == 204
        )
    assert not CropEmbedding.objects.exists()
    assert not crop_files[0].exists()


def test_the_sweep_queues_stuck_crops_again(
    image: Image, user_in: Any, api_client: Any, queued: list[int]
) -> None:
    client = api_client(user_in(image.project, "annotator"))
    crop_id = client.post(url(image), {"box": WINDOW}, format="json").json()["id"]
    crop = CropEmbedding.objects.get(pk=crop_id)
    assert crop.claim()  # then its worker dies
    CropEmbedding.objects.filter(pk=crop_id).update(
        heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert tasks.sweep_stuck_crops() == [crop_id]
    assert CropEmbedding.objects.get(pk=crop_id).status == "pending"
    assert queued == [crop_id, crop_id]
