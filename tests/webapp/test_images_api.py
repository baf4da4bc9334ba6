"""The images API by role: viewers and other members read, managers and owners upload
and delete, annotators cannot upload, outsiders get 404 everywhere."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse

from tests.webapp.conftest import ApiClientFor, MakeProject, UserIn
from tests.webapp.factories_images import astronaut_jpeg, small_png, stored_files, upload
from webapp.images.models import EncodingStatus, Image, ImageEmbedding
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db

READERS = ["owner", "manager", "reviewer", "annotator", "viewer"]
MANAGERS = ["owner", "manager"]
NOT_MANAGERS = ["reviewer", "annotator", "viewer"]


def client_as(project: Project, who: str, user_in: UserIn, api_client: ApiClientFor):
    return api_client(user_in(project, who))


def upload_as(client, project: Project, *files) -> object:
    return client.post(
        reverse("image-list", kwargs={"project_pk": project.pk}),
        {"files": list(files)},
        format="multipart",
    )


@pytest.fixture
def project(make_project: MakeProject) -> Project:
    return make_project(name="Photos")


@pytest.fixture
def ready_image(project: Project, media_root: Path, user_in, api_client) -> Image:
    """An uploaded photo with a stored (random) embedding, as if a worker encoded it."""
    owner = client_as(project, "owner", user_in, api_client)
    response = upload_as(owner, project, upload("astronaut.jpg", astronaut_jpeg()))
    image = Image.objects.get(pk=response.json()["results"][0]["id"])
    claimed = image.claim_for_encoding()
    assert claimed
    rng = np.random.default_rng(0)
    ImageEmbedding.store(image, project.model, rng.standard_normal((1, 256, 64, 64)))
    image.refresh_from_db()
    return image


def url(name: str, image: Image, **extra: object) -> str:
    return reverse(name, kwargs={"project_pk": image.project_id, "pk": image.pk, **extra})


@pytest.mark.parametrize("who", MANAGERS)
def test_managers_and_owners_upload_images(
    who: str, project: Project, media_root: Path, user_in, api_client
) -> None:
    client = client_as(project, who, user_in, api_client)

    response = upload_as(client, project, upload("cat.png", small_png(1), "image/png"))

    assert response.status_code == 201
    body = response.json()
    assert body["created"] == 1
    (result,) = body["results"]
    assert result["result"] == "created"
    assert result["image"]["original_name"] == "cat.png"
    assert (result["image"]["width"], result["image"]["height"]) == (40, 30)
    assert result["image"]["status"] == "pending"
    assert Image.objects.filter(project=project).count() == 1


@pytest.mark.parametrize("who", NOT_MANAGERS)
def test_members_below_manager_cannot_upload(
    who: str, project: Project, media_root: Path, user_in, api_client
) -> None:
    client = client_as(project, who, user_in, api_client)

    response = upload_as(client, project, upload("cat.png", small_png(1), "image/png"))

    assert response.status_code == 403
    assert not Image.objects.exists()
    assert stored_files(media_root) == []


def test_outsider_cannot_upload_and_learns_nothing(
    project: Project, media_root: Path, user_in, api_client
) -> None:
    client = client_as(project, "outsider", user_in, api_client)

    response = upload_as(client, project, upload("cat.png", small_png(1), "image/png"))

    assert response.status_code == 404
    assert not Image.objects.exists()


def test_anonymous_users_cannot_list_images(project: Project, api_client) -> None:
    response = api_client(None).get(reverse("image-list", kwargs={"project_pk": project.pk}))

    assert response.status_code in (401, 403)


@pytest.mark.parametrize("who", READERS)
def test_members_read_the_image_list_detail_file_thumbnail_embedding_and_progress(
    who: str, ready_image: Image, user_in, api_client
) -> None:
    client = client_as(ready_image.project, who, user_in, api_client)
    project_pk = ready_image.project_id

    listing = client.get(reverse("image-list", kwargs={"project_pk": project_pk}))
    detail = client.get(url("image-detail", ready_image))
    original = client.get(url("image-file", ready_image))
    shown = client.get(url("image-display", ready_image))
    thumbnail = client.get(url("image-thumbnail", ready_image))
    embedding = client.get(url("image-embedding", ready_image))
    progress = client.get(reverse("image-progress", kwargs={"project_pk": project_pk}))

    assert listing.status_code == 200
    assert [i["id"] for i in listing.json()["results"]] == [ready_image.pk]
    assert detail.status_code == 200
    assert set(detail.json()) == {
        "id", "original_name", "width", "height", "sha256", "status", "failure_reason",
        "thumbnail_url", "file_url", "display_url", "embedding_url", "created_at",
    }  # fmt: skip
    assert detail.json()["embedding_url"] == url("image-embedding", ready_image)
    assert original.status_code == 200
    assert b"".join(original.streaming_content) == astronaut_jpeg()
    assert shown.status_code == 200  # a JPEG browsers draw as it is: the original
    assert b"".join(shown.streaming_content) == astronaut_jpeg()
    assert thumbnail.status_code == 200
    assert thumbnail["Content-Type"] == "image/jpeg"
    assert embedding.status_code == 200
    assert progress.json() == {"total": 1, "pending": 0, "encoding": 0, "ready": 1, "failed": 0}


@pytest.mark.parametrize(
    "name", ["image-detail", "image-file", "image-display", "image-thumbnail", "image-embedding"]
)
def test_outsider_gets_404_for_every_image_url(
    name: str, ready_image: Image, user_in, api_client
) -> None:
    client = client_as(ready_image.project, "outsider", user_in, api_client)

    assert client.get(url(name, ready_image)).status_code == 404


def test_outsider_gets_404_for_list_and_progress(project: Project, user_in, api_client) -> None:
    client = client_as(project, "outsider", user_in, api_client)

    for name in ("image-list", "image-progress"):
        assert client.get(reverse(name, kwargs={"project_pk": project.pk})).status_code == 404


def test_images_of_another_project_are_not_found_through_this_one(
    ready_image: Image, make_project: MakeProject, user_in, api_client
) -> None:
    other = make_project(name="Other")
    client = client_as(other, "owner", user_in, api_client)
    wrong = reverse("image-file", kwargs={"project_pk": other.pk, "pk": ready_image.pk})

    assert client.get(wrong).status_code == 404


def test_embedding_is_raw_little_endian_float16_with_immutable_caching(
    ready_image: Image, user_in, api_client
) -> None:
    client = client_as(ready_image.project, "viewer", user_in, api_client)
    stored = ImageEmbedding.objects.get(image=ready_image)

    response = client.get(url("image-embedding", ready_image))

    assert response.status_code == 200
    assert len(response.content) == 256 * 64 * 64 * 2
    values = np.frombuffer(response.content, dtype="<f2").reshape(1, 256, 64, 64)
    np.testing.assert_array_equal(values, stored.load())
    assert response["ETag"] == f'"{stored.sha256}"'
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    assert response["X-Embedding-Dtype"] == "float16"
    assert response["X-Embedding-Shape"] == "1,256,64,64"
    again = client.get(url("image-embedding", ready_image), HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    assert again.content == b""


def test_embedding_of_an_image_not_yet_encoded_is_409_with_its_status(
    project: Project, media_root: Path, user_in, api_client
) -> None:
    client = client_as(project, "owner", user_in, api_client)
    created = upload_as(client, project, upload("a.png", small_png(2), "image/png")).json()
    image = Image.objects.get(pk=created["results"][0]["id"])

    response = client.get(url("image-embedding", image))

    assert response.status_code == 409
    assert response.json()["status"] == "pending"
    assert created["results"][0]["image"]["embedding_url"] is None


@pytest.mark.parametrize("who", MANAGERS)
def test_managers_delete_an_image_with_its_files(
    who: str,
    ready_image: Image,
    media_root: Path,
    user_in,
    api_client,
    django_capture_on_commit_callbacks,
) -> None:
    client = client_as(ready_image.project, who, user_in, api_client)
    assert len(stored_files(media_root)) == 3  # original, thumbnail, embedding

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(url("image-detail", ready_image))

    assert response.status_code == 204
    assert not Image.objects.filter(pk=ready_image.pk).exists()
    assert not ImageEmbedding.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize("who", [*NOT_MANAGERS, "outsider"])
def test_members_below_manager_and_outsiders_cannot_delete_images(
    who: str, ready_image: Image, media_root: Path, user_in, api_client
) -> None:
    client = client_as(ready_image.project, who, user_in, api_client)

    response = client.delete(url("image-detail", ready_image))

    assert response.status_code == (404 if who == "outsider" else 403)
    assert Image.objects.filter(pk=ready_image.pk).exists()
    assert len(stored_files(media_root)) == 3


def test_an_embedding_file_shared_with_another_project_survives_deleting_one_copy(
    ready_image: Image,
    make_project: MakeProject,
    media_root: Path,
    user_in,
    api_client,
    django_capture_on_commit_callbacks,
) -> None:
    other = make_project(name="Other")
    owner = client_as(other, "owner", user_in, api_client)
    copy_id = upload_as(owner, other, upload("same.jpg", astronaut_jpeg())).json()["results"][0]
    copy = Image.objects.get(pk=copy_id["id"])
    assert copy.claim_for_encoding()
    ImageEmbedding.store(copy, other.model, ImageEmbedding.objects.get().load())
    shared = ImageEmbedding.objects.get(image=copy).file.name
    assert ImageEmbedding.objects.get(image=ready_image).file.name == shared

    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(ready_image.project, "owner", user_in, api_client).delete(
            url("image-detail", ready_image)
        )

    assert response.status_code == 204
    assert (media_root / shared).is_file()
    assert owner.get(url("image-embedding", copy)).status_code == 200


def test_list_filters_by_status_and_name_and_orders_by_id(
    project: Project, media_root: Path, user_in, api_client
) -> None:
    client = client_as(project, "owner", user_in, api_client)
    files = [
        upload("Cat-1.png", small_png(1), "image/png"),
        upload("dog.png", small_png(2), "image/png"),
        upload("black cat.png", small_png(3), "image/png"),
    ]
    ids = [r["id"] for r in upload_as(client, project, *files).json()["results"]]
    Image.objects.filter(pk=ids[2]).update(status=EncodingStatus.READY)
    list_url = reverse("image-list", kwargs={"project_pk": project.pk})

    everything = client.get(list_url).json()
    cats = client.get(list_url, {"name": "cat"}).json()
    ready = client.get(list_url, {"status": "ready"}).json()
    bad = client.get(list_url, {"status": "done"})

    assert [i["id"] for i in everything["results"]] == ids
    assert everything["count"] == 3
    assert [i["original_name"] for i in cats["results"]] == ["Cat-1.png", "black cat.png"]
    assert [i["id"] for i in ready["results"]] == [ids[2]]
    assert bad.status_code == 400
    assert "ready" in json.dumps(bad.json())


@pytest.mark.parametrize("who", READERS)
def test_members_read_the_decoder_manifest_and_its_files(
    who: str, project: Project, user_in, api_client
) -> None:
    client = client_as(project, who, user_in, api_client)

    manifest_response = client.get(reverse("decoder-manifest", kwargs={"project_pk": project.pk}))

    assert manifest_response.status_code == 200
    manifest = manifest_response.json()
    assert manifest["model"] == project.model
    browser = manifest["decoders"][manifest["browser_decoder"]]
    # The shipped decoder is split: its image stage is served the same way.
    for entry in (browser, browser["image_stage"]):
        file_url = reverse(
            "decoder-file", kwargs={"project_pk": project.pk, "filename": entry["file"]}
        )
        decoder = client.get(file_url)
        assert decoder.status_code == 200
        assert decoder["ETag"] == f'"{entry["sha256"]}"'
        assert decoder["Cache-Control"] == "private, max-age=31536000, immutable"
        content = b"".join(decoder.streaming_content)
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
        assert client.get(file_url, HTTP_IF_NONE_MATCH=decoder["ETag"]).status_code == 304


def test_only_decoder_files_listed_in_the_manifest_are_served(
    project: Project, user_in, api_client
) -> None:
    client = client_as(project, "owner", user_in, api_client)

    for name in ("image_encoder.onnx", "manifest.json.bak", "..%2Fmanifest.json", "x.onnx"):
        response = client.get(
            reverse("decoder-file", kwargs={"project_pk": project.pk, "filename": name})
        )
        assert response.status_code == 404, name


def test_outsider_gets_404_for_the_decoder(project: Project, user_in, api_client) -> None:
    client = client_as(project, "outsider", user_in, api_client)
    file_url = reverse(
        "decoder-file", kwargs={"project_pk": project.pk, "filename": "decoder_int8.onnx"}
    )

    assert (
        client.get(reverse("decoder-manifest", kwargs={"project_pk": project.pk})).status_code
        == 404
    )
    assert client.get(file_url).status_code == 404
