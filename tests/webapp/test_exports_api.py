"""The exports API: who may create, list, read and download exports, and the task."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.urls import reverse

from tests.webapp.factories_exports import Dataset, make_dataset
from webapp.exports import services
from webapp.exports.models import Export, ExportStatus
from webapp.exports.tasks import run_export

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "annotator", "reviewer", "manager", "owner"]
MAY_CREATE = {"reviewer", "manager", "owner"}


@pytest.fixture
def dataset(make_project: Any, media_root: Path) -> Dataset:
    return make_dataset(make_project())


def list_url(data: Dataset) -> str:
    return reverse("export-list", args=[data.project.pk])


def create(client: Any, data: Dataset, **body: Any) -> Any:
    """Start an export of the images with annotations (the project's review is on, so by
    default only accepted images would be exported; see test_workflow_exports.py)."""
    body = {"format": "coco", "image_scope": "annotated", **body}
    return client.post(list_url(data), body, format="json")


def finished_export(data: Dataset) -> Export:
    export = Export.objects.create(project=data.project, format="coco", options={})
    run_export(export.pk)
    export.refresh_from_db()
    return export


@pytest.mark.parametrize("role", ROLES)
def test_members_from_reviewer_up_may_create_an_export(
    dataset: Dataset, user_in: Any, api_client: Any, role: str
):
    response = create(api_client(user_in(dataset.project, role)), dataset)

    if role in MAY_CREATE:
        assert response.status_code == 201
        assert response.data["status"] == "done"
        assert response.data["progress_done"] == response.data["progress_total"] == 4
        assert Export.objects.filter(project=dataset.project).count() == 1
    else:
        assert response.status_code == 403
        assert not Export.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_every_member_may_list_read_and_download_exports(
    dataset: Dataset, user_in: Any, api_client: Any, role: str
):
    export = finished_export(dataset)
    client = api_client(user_in(dataset.project, role))

    listing = client.get(list_url(dataset))
    detail = client.get(reverse("export-detail", args=[dataset.project.pk, export.pk]))
    download = client.get(reverse("export-download", args=[dataset.project.pk, export.pk]))

    assert listing.status_code == 200
    assert [row["id"] for row in listing.data["results"]] == [export.pk]
    assert detail.status_code == 200 and detail.data["status"] == "done"
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert "attachment" in download["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert "annotations.json" in archive.namelist()


def test_outsiders_get_404_everywhere(dataset: Dataset, user_in: Any, api_client: Any):
    export = finished_export(dataset)
    client = api_client(user_in(dataset.project, "outsider"))
    args = [dataset.project.pk, export.pk]

    assert create(client, dataset).status_code == 404
    assert client.get(list_url(dataset)).status_code == 404
    assert client.get(reverse("export-detail", args=args)).status_code == 404
    assert client.get(reverse("export-download", args=args)).status_code == 404
    assert Export.objects.count() == 1


def test_anonymous_users_are_refused(dataset: Dataset, api_client: Any):
    assert api_client(None).get(list_url(dataset)).status_code in (401, 403)


def test_an_export_of_another_project_is_404(
    dataset: Dataset, make_project: Any, user_in: Any, api_client: Any
):
    other = finished_export(make_dataset(make_project()))
    client = api_client(user_in(dataset.project, "owner"))
    args = [dataset.project.pk, other.pk]

    assert client.get(reverse("export-detail", args=args)).status_code == 404
    assert client.get(reverse("export-download", args=args)).status_code == 404
    assert client.get(list_url(dataset)).data["results"] == []


def test_the_options_are_kept_and_applied(dataset: Dataset, user_in: Any, api_client: Any):
    client = api_client(user_in(dataset.project, "owner"))
    response = create(
        client,
        dataset,
        format="yolo",
        include_images=False,
        label_classes=[dataset.dog.pk],
        images=[dataset.images[1].pk],
    )

    assert response.status_code == 201
    assert response.data["options"]["label_classes"] == [dataset.dog.pk]
    assert response.data["options"]["image_scope"] == "annotated"
    assert response.data["options"]["val_fraction"] == 0.2
    download = client.get(response.data["download_url"])
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    # Alone in the selection, the image keeps its own name; one image cannot be split.
    assert sorted(archive.namelist()) == ["data.yaml", "labels/train/street.txt"]
    assert archive.read("data.yaml").startswith(b"# One split")


def test_the_image_scope_and_split_reach_the_zip(dataset: Dataset, user_in: Any, api_client: Any):
    client = api_client(user_in(dataset.project, "reviewer"))
    response = create(client, dataset, format="yolo", image_scope="all", val_fraction=0.3, seed=3)

    assert response.status_code == 201, response.data
    assert response.data["options"]["seed"] == 3
    download = client.get(response.data["download_url"])
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    labels = sorted(n.split("/")[1] for n in archive.namelist() if n.startswith("labels/"))
    assert labels == ["train", "train", "val"]  # 3 images (one unlabelled); 0.3 of 3 -> 1 held out
    assert b"val: images/val" in archive.read("data.yaml")


@pytest.mark.parametrize(
    "body",
    [
        {"val_fraction": 1},
        {"val_fraction": -0.1},
        {"val_fraction": "half"},
        {"seed": -1},
        {"image_scope": "reviewed"},
    ],
)
def test_a_bad_split_or_scope_is_rejected_with_a_reason(
    dataset: Dataset, user_in: Any, api_client: Any, body: dict[str, Any]
):
    response = create(api_client(user_in(dataset.project, "owner")), dataset, **body)

    assert response.status_code == 400
    assert set(response.data) == set(body)
    assert not Export.objects.exists()


def test_ids_from_another_project_or_a_bad_format_are_rejected(
    dataset: Dataset, make_project: Any, user_in: Any, api_client: Any
):
    other = make_dataset(make_project())
    client = api_client(user_in(dataset.project, "owner"))

    assert create(client, dataset, label_classes=[other.cat.pk]).status_code == 400
    assert create(client, dataset, images=[other.images[0].pk]).status_code == 400
    assert create(client, dataset, format="tiff").status_code == 400
    assert create(client, dataset, mask_format="bitmap").status_code == 400
    assert not Export.objects.exists()


def test_large_exports_are_queued_after_commit_and_run_by_the_task(
    dataset: Dataset, user_in: Any, api_client: Any, django_capture_on_commit_callbacks: Any
):
    client = api_client(user_in(dataset.project, "owner"))
    with (
        mock.patch.object(services, "RUN_IN_REQUEST_UP_TO", 1),
        mock.patch("webapp.exports.tasks.run_export.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = create(client, dataset)

    assert response.status_code == 202
    assert response.data["status"] == "pending"
    export_id = response.data["id"]
    delay.assert_called_once_with(export_id)
    download = reverse("export-download", args=[dataset.project.pk, export_id])
    assert client.get(download).status_code == 409

    run_export(export_id)
    export = Export.objects.get(pk=export_id)
    assert export.status == ExportStatus.DONE
    assert (export.progress_done, export.progress_total) == (4, 4)
    assert client.get(download).status_code == 200


def test_the_task_does_nothing_for_a_claimed_or_missing_export(dataset: Dataset):
    export = finished_export(dataset)
    name = export.file.name

    run_export(export.pk)  # already done: not claimed again
    run_export(10**9)  # gone: a warning, no error

    export.refresh_from_db()
    assert export.file.name == name and export.status == ExportStatus.DONE


def test_a_missing_image_file_fails_the_export_with_a_reason(dataset: Dataset):
    image = dataset.images[0]
    image.file.storage.delete(image.file.name)

    export = finished_export(dataset)

    assert export.status == ExportStatus.FAILED
    assert "missing from storage" in export.error
