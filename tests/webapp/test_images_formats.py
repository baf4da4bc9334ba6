"""Which image formats an upload may be, and what the browser is given to draw: the
accepted list, the formats refused with the list in the reason, and display copies (a PNG
drawn upright) for the originals browsers cannot decode or would not turn as SAM sees
them, which the annotator shows and the worker encodes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image as PILImage
from PIL import features

from tests.webapp.factories_images import stored_files, upload
from tests.webapp.factories_models import ModelCache
from webapp.images import tasks
from webapp.images.models import Image
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db

ACCEPTED = "JPEG, PNG, WebP, GIF, BMP or TIFF"


@pytest.fixture
def project(make_project) -> Project:
    return make_project(name="Formats")


@pytest.fixture
def owner(project: Project, user_in, api_client):
    return api_client(user_in(project, "owner"))


def post(client, project: Project, name: str, content: bytes):
    return client.post(
        reverse("image-list", kwargs={"project_pk": project.pk}),
        {"files": [upload(name, content, "application/octet-stream")]},
        format="multipart",
    )


def marked_picture(mode: str = "RGB") -> PILImage.Image:
    """60 wide × 20 high, grey, with a red 10×10 block at the top left."""
    picture = PILImage.new("RGB", (60, 20), (128, 128, 128))
    picture.paste((220, 20, 20), (0, 0, 10, 10))
    return picture.convert(mode)


def saved(picture: PILImage.Image, file_format: str, **options: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, format=file_format, **options)
    return out.getvalue()


def turned_a_quarter(file_format: str, **options: object) -> bytes:
    """``marked_picture`` whose EXIF says orientation 6: shown 20 wide × 60 high, with the
    red block at the top right."""
    exif = PILImage.Exif()
    exif[0x0112] = 6
    return saved(marked_picture(), file_format, exif=exif, **options)


def served(client, image: Image) -> PILImage.Image:
    response = client.get(reverse("image-display", args=[image.project_id, image.pk]))
    assert response.status_code == 200
    return PILImage.open(io.BytesIO(b"".join(response.streaming_content)))


def red_block_at_top_right(picture: PILImage.Image) -> bool:
    pixels = np.asarray(picture.convert("RGB")).astype(int)
    return (
        picture.size == (20, 60)
        and pixels[2:8, 12:18, 0].min() > 180
        and pixels[2:8, 2:8, 0].max() < 160  # the top left is grey
    )


@pytest.mark.parametrize(
    ("file_format", "mode", "extension", "display"),
    [
        ("JPEG", "RGB", "jpg", False),
        ("PNG", "RGBA", "png", False),
        ("WEBP", "RGB", "webp", False),
        ("GIF", "P", "gif", False),
        ("BMP", "RGB", "bmp", False),
        ("TIFF", "RGB", "tif", True),
    ],
)
def test_each_accepted_format_is_stored_and_only_tiff_gets_a_display_copy(
    owner, project: Project, media_root: Path, file_format, mode, extension, display
) -> None:
    response = post(
        owner, project, f"picture.{extension}", saved(marked_picture(mode), file_format)
    )

    assert response.status_code == 201, response.json()
    image = Image.objects.get()
    assert image.file.name.endswith(f".{extension}")
    assert bool(image.display) is display
    shown = served(owner, image)
    assert shown.format == ("PNG" if display else file_format)
    assert shown.size == (60, 20)


def refused_formats() -> list[tuple[str, bytes]]:
    """Files of formats Pillow reads (or, for EPS and PDF, hands to Ghostscript) that
    browsers do not: each must be refused."""
    picture = marked_picture()
    files = [
        ("drawing.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 60 20\nshowpage\n"),
        ("scan.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"),
        ("old.pcx", saved(picture, "PCX")),
        ("texture.tga", saved(picture, "TGA")),
        ("render.sgi", saved(picture, "SGI")),
        ("frame.ppm", saved(picture, "PPM")),
        ("frame.qoi", saved(picture, "QOI")),
        ("game.dds", saved(picture, "DDS")),
        ("icon.xbm", saved(picture.convert("1"), "XBM")),
    ]
    if features.check("jpg_2000"):
        files.append(("photo.jp2", saved(picture, "JPEG2000")))
    return files


@pytest.mark.parametrize(("name", "content"), refused_formats(), ids=lambda v: str(v)[:12])
def test_other_formats_are_refused_with_the_list_of_accepted_ones(
    owner, project: Project, media_root: Path, name: str, content: bytes
) -> None:
    response = post(owner, project, name, content)

    assert response.status_code == 400
    reason = response.json()["results"][0]["reason"]
    assert reason.endswith(f"{ACCEPTED} image") or reason.endswith(f"({ACCEPTED})"), reason
    assert not Image.objects.exists()
    assert stored_files(media_root) == []


def test_eps_and_pdf_are_refused_by_name_whatever_the_file_is_called(
    owner, project: Project, media_root: Path
) -> None:
    eps = post(owner, project, "picture.png", b"%!PS-Adobe-3.0 EPSF-3.0\nshowpage\n")
    pdf = post(owner, project, "picture.jpg", b"%PDF-1.7\n%%EOF\n")

    assert eps.json()["results"][0]["reason"].startswith("PostScript/EPS files are not accepted")
    assert pdf.json()["results"][0]["reason"].startswith("PDF files are not accepted")


@pytest.mark.parametrize(
    ("file_format", "options"), [("WEBP", {"lossless": True}), ("PNG", {}), ("TIFF", {})]
)
def test_an_exif_turned_picture_is_shown_upright_from_a_display_copy(
    owner, project: Project, media_root: Path, file_format: str, options: dict[str, object]
) -> None:
    response = post(owner, project, "phone.img", turned_a_quarter(file_format, **options))

    assert response.status_code == 201, response.json()
    image = Image.objects.get()
    assert (image.width, image.height) == (20, 60)
    assert image.display.name.endswith(".png")
    shown = served(owner, image)
    assert shown.format == "PNG"
    assert red_block_at_top_right(shown)
    assert "exif" not in shown.info  # nothing left for a browser to turn again
    with PILImage.open(media_root / image.thumbnail.name) as thumbnail:
        assert red_block_at_top_right(thumbnail)


def test_a_turned_jpeg_is_served_as_it_is_since_browsers_turn_it(
    owner, project: Project, media_root: Path
) -> None:
    content = turned_a_quarter("JPEG", quality=95)

    post(owner, project, "phone.jpg", content)

    image = Image.objects.get()
    assert (image.width, image.height) == (20, 60)
    assert not image.display
    response = owner.get(reverse("image-display", args=[project.pk, image.pk]))
    assert b"".join(response.streaming_content) == content


def test_a_16_bit_tiff_is_shown_as_8_bit_grey_scaled_as_sam_sees_it(
    owner, project: Project, media_root: Path
) -> None:
    samples = np.array([[0, 257, 65535, 32896]] * 3, dtype=np.uint16)

    post(owner, project, "scan.tif", saved(PILImage.fromarray(samples), "TIFF"))

    shown = served(owner, Image.objects.get())
    assert shown.mode == "L"
    assert np.asarray(shown).tolist() == [[0, 1, 255, 128]] * 3


def test_the_worker_encodes_the_pixels_the_display_copy_shows(
    owner, project: Project, media_root: Path, model_cache: ModelCache, monkeypatch
) -> None:
    import export_onnx.encoder

    model_cache.add_weights("mobile_sam")
    encoded = []

    def capture(pictures, model, **options):
        encoded.extend(pictures)
        return np.zeros((len(pictures), 256, 64, 64), dtype=np.float32)

    monkeypatch.setattr(export_onnx.encoder, "encode", capture)
    post(owner, project, "phone.webp", turned_a_quarter("WEBP", lossless=True))
    image = Image.objects.get()

    tasks.encode_image(image.pk)

    [picture] = encoded
    assert (picture.width, picture.height) == (20, 60)
    assert red_block_at_top_right(picture.pixels)
    image.refresh_from_db()
    assert image.status == "ready"


def test_deleting_an_image_removes_its_display_copy(
    owner, project: Project, media_root: Path, django_capture_on_commit_callbacks
) -> None:
    post(owner, project, "scan.tif", saved(marked_picture(), "TIFF"))
    image = Image.objects.get()
    assert (media_root / image.display.name).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = owner.delete(reverse("image-detail", args=[project.pk, image.pk]))

    assert response.status_code == 204
    assert stored_files(media_root) == []
