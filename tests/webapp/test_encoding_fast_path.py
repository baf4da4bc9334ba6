"""The worker's fast path: the encoder the settings choose (auto: the fastest for the
device), a large JPEG decoded only as far as the model needs, and a thumbnail made
without a full decode. The real encoder runs in test_encoding_pipeline.py."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image as PILImage

from tests.webapp.conftest import RunManage
from tests.webapp.factories_images import upload
from tests.webapp.factories_models import ModelCache
from webapp.images import tasks
from webapp.images.models import EncodingStatus, Image
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db


class RecordingEncoder:
    """Stands in for export_onnx.encoder.encode: keeps each call's pictures and options."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[object], dict[str, object]]] = []

    def __call__(self, pictures, model, **options) -> np.ndarray:
        self.calls.append((list(pictures), options))
        return np.zeros((len(pictures), 256, 64, 64), np.float32)


@pytest.fixture
def recording_encoder(monkeypatch, model_cache: ModelCache) -> RecordingEncoder:
    import export_onnx.encoder

    model_cache.add_weights("mobile_sam")  # stand-ins: the worker checks they are there
    recorder = RecordingEncoder()
    monkeypatch.setattr(export_onnx.encoder, "encode", recorder)
    return recorder


def camera_jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A camera-sized JPEG: a gradient with a dark square at the top left."""
    ramp = np.linspace(40, 220, width, dtype=np.float32)
    pixels = np.repeat(np.broadcast_to(ramp, (height, width))[..., None], 3, axis=2)
    pixels = pixels.astype(np.uint8)
    pixels[: height // 4, : width // 4] = 10
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture
def uploaded_photo(make_project, user_in, api_client, media_root: Path) -> Image:
    project: Project = make_project(name="Camera")
    owner = api_client(user_in(project, "owner"))
    response = owner.post(
        reverse("image-list", kwargs={"project_pk": project.pk}),
        {"files": [upload("camera.jpg", camera_jpeg(), "image/jpeg")]},
        format="multipart",
    )
    assert response.status_code == 201
    return Image.objects.get(pk=response.json()["results"][0]["id"])


def test_a_large_photo_keeps_its_full_size_and_gets_a_256_pixel_thumbnail(
    uploaded_photo: Image, media_root: Path
) -> None:
    assert (uploaded_photo.width, uploaded_photo.height) == (4000, 3000)
    with PILImage.open(media_root / uploaded_photo.thumbnail.name) as thumbnail:
        assert thumbnail.size == (256, 192)
        corner = np.asarray(thumbnail.convert("L"))[:40, :50]
        assert corner.max() < 40  # the dark square, where it is in the photo


def test_the_worker_decodes_a_large_jpeg_at_a_reduced_size_with_its_full_size(
    uploaded_photo: Image, recording_encoder: RecordingEncoder
) -> None:
    tasks.encode_image(uploaded_photo.pk)

    uploaded_photo.refresh_from_db()
    assert uploaded_photo.status == EncodingStatus.READY
    ((picture,), _options) = recording_encoder.calls[0]
    assert picture.pixels.size == (2000, 1500)  # half: the smallest that keeps 1024
    assert (picture.width, picture.height) == (4000, 3000)


@pytest.mark.parametrize("backend", ["auto", "torch", "onnx"])
def test_the_worker_encodes_with_the_backend_the_settings_name(
    backend: str, uploaded_photo: Image, recording_encoder: RecordingEncoder, settings
) -> None:
    settings.SAMLABEL_ENCODER_BACKEND = backend

    tasks.encode_image(uploaded_photo.pk)

    ((_pictures, options),) = recording_encoder.calls
    assert options["backend"] == backend


def test_the_encoder_backend_is_auto_unless_set(run_manage: RunManage) -> None:
    show = "from django.conf import settings; print(settings.SAMLABEL_ENCODER_BACKEND)"

    default = run_manage("shell", "--no-imports", "-c", show)
    forced = run_manage("shell", "--no-imports", "-c", show, SAMLABEL_ENCODER_BACKEND="onnx")

    assert default.stdout.strip() == "auto", default.stderr
    assert forced.stdout.strip() == "onnx", forced.stderr


def test_a_bad_encoder_backend_stops_start_up_naming_the_variable(run_manage: RunManage) -> None:
    result = run_manage("check", SAMLABEL_ENCODER_BACKEND="tensorflow")

    assert result.returncode != 0
    assert "SAMLABEL_ENCODER_BACKEND='tensorflow': use auto, torch or onnx" in result.stderr
