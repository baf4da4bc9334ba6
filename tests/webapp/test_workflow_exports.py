"""Exports and the workflow: with review on, an export holds exactly what passed review."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from tests.webapp.factories_exports import Dataset, make_dataset
from webapp.workflow.models import WorkItem, WorkState

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(make_project: Any, media_root: Path) -> Dataset:
    return make_dataset(make_project())


def export(client: Any, data: Dataset, **body: Any) -> tuple[Any, dict[str, Any]]:
    response = client.post(
        reverse("export-list", args=[data.project.pk]),
        {"format": "coco", "include_images": False, **body},
        format="json",
    )
    assert response.status_code == 201, response.content
    download = client.get(response.data["download_url"])
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    return response, json.loads(archive.read("annotations.json"))


def accept(*images: Any) -> None:
    WorkItem.objects.filter(pk__in=[i.pk for i in images]).update(state=WorkState.ACCEPTED)


def test_with_review_on_an_export_holds_only_the_accepted_images_by_default(
    dataset: Dataset, user_in: Any, api_client: Any
) -> None:
    accept(dataset.images[1], dataset.images[2])  # the empty one is a checked negative
    WorkItem.objects.filter(pk=dataset.images[0].pk).update(state=WorkState.SUBMITTED)

    response, coco = export(api_client(user_in(dataset.project, "owner")), dataset)

    assert response.data["options"]["image_scope"] == "accepted"
    assert sorted(image["id"] for image in coco["images"]) == sorted(
        [dataset.images[1].pk, dataset.images[2].pk]
    )
    assert {a["image_id"] for a in coco["annotations"]} == {dataset.images[1].pk}
    assert len(coco["annotations"]) == 2


def test_with_nothing_accepted_yet_the_export_is_empty(
    dataset: Dataset, user_in: Any, api_client: Any
) -> None:
    _, coco = export(api_client(user_in(dataset.project, "owner")), dataset)

    assert coco["images"] == [] and coco["annotations"] == []


def test_with_review_off_the_default_is_the_annotated_images(
    dataset: Dataset, user_in: Any, api_client: Any
) -> None:
    dataset.project.review_required = False
    dataset.project.save()

    response, coco = export(api_client(user_in(dataset.project, "owner")), dataset)

    assert response.data["options"]["image_scope"] == "annotated"
    assert len(coco["images"]) == 2
    assert len(coco["annotations"]) == 4


def test_the_accepted_scope_can_be_asked_for_and_the_others_still_work(
    dataset: Dataset, user_in: Any, api_client: Any
) -> None:
    accept(dataset.images[0])
    client = api_client(user_in(dataset.project, "owner"))

    _, accepted = export(client, dataset, image_scope="accepted")
    _, everything = export(client, dataset, image_scope="all")

    assert [image["id"] for image in accepted["images"]] == [dataset.images[0].pk]
    assert len(everything["images"]) == 3


def test_the_command_line_export_also_holds_only_accepted_images_by_default(
    dataset: Dataset, tmp_path: Path
) -> None:
    from django.core.management import call_command

    accept(dataset.images[0])
    out = tmp_path / "cli.zip"
    call_command(
        "export_project", str(dataset.project.pk), "--format", "coco", "--no-images",
        "--out", str(out), stdout=io.StringIO(),
    )  # fmt: skip

    with zipfile.ZipFile(out) as archive:
        coco = json.loads(archive.read("annotations.json"))
    assert [image["id"] for image in coco["images"]] == [dataset.images[0].pk]
