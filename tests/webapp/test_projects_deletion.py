"""Deleting a whole project: owners only; its images, annotations, embeddings, exports
and their stored files go with it, and nothing of another project does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.base import ContentFile

from tests.webapp.conftest import ApiClientFor, MakeImageRow, MakeProject, UserIn
from tests.webapp.test_projects_image_deletion import annotate
from webapp.annotations.models import Annotation
from webapp.exports.models import Export
from webapp.images.models import Image, ImageEmbedding
from webapp.projects.models import LabelClass, Project


def stored(settings: Any) -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def full_project(make_project: MakeProject, make_image_row: MakeImageRow, name: str) -> Project:
    project = make_project(name=name)
    label = LabelClass.objects.create(project=project, name="cell")
    image = make_image_row(project, status="ready")
    image.thumbnail.save("t.jpg", ContentFile(b"jpeg"), save=True)
    annotate(image, label)
    ImageEmbedding.store(image, project.model, np.full((256, 64, 64), project.pk))
    export = Export.objects.create(project=project, format="coco", status="done")
    export.file.save("x.zip", ContentFile(b"zip"), save=True)
    return project


@pytest.mark.django_db(transaction=True)
def test_an_owner_deletes_a_project_with_everything_in_it(
    make_project: MakeProject,
    make_image_row: MakeImageRow,
    api_client: ApiClientFor,
    user_in: UserIn,
    settings: Any,
) -> None:
    doomed = full_project(make_project, make_image_row, "Doomed")
    kept = full_project(make_project, make_image_row, "Kept")
    kept_files = {
        name
        for name in stored(settings)
        if f"/{kept.pk}/" in name
        or name.endswith(f"{kept.images.get().embeddings.get().sha256}.npy")
    }
    assert len(stored(settings)) == 8

    response = api_client(user_in(doomed, "owner")).delete(f"/api/projects/{doomed.pk}/")

    assert response.status_code == 204
    assert list(Project.objects.all()) == [kept]
    assert Image.objects.get().project == kept
    assert Annotation.objects.get().image.project == kept
    assert Export.objects.get().project == kept
    assert stored(settings) == kept_files


@pytest.mark.parametrize(
    ("role", "status"),
    [("manager", 403), ("reviewer", 403), ("annotator", 403), ("viewer", 403), ("outsider", 404)],
)
def test_only_an_owner_deletes_a_project(
    role: str,
    status: int,
    make_project: MakeProject,
    make_image_row: MakeImageRow,
    api_client: ApiClientFor,
    user_in: UserIn,
) -> None:
    project = full_project(make_project, make_image_row, "Cells")

    response = api_client(user_in(project, role)).delete(f"/api/projects/{project.pk}/")

    assert response.status_code == status
    assert Image.objects.filter(project=project).exists()


@pytest.mark.parametrize(
    ("role", "status"),
    [("owner", 200), ("manager", 200), ("reviewer", 403), ("viewer", 403), ("outsider", 404)],
)
def test_managers_rename_and_describe_a_project(
    role: str, status: int, make_project: MakeProject, api_client: ApiClientFor, user_in: UserIn
) -> None:
    project = make_project(name="Cells")

    response = api_client(user_in(project, role)).patch(
        f"/api/projects/{project.pk}/",
        {"name": "Nuclei", "description": "Stained slides"},
        format="json",
    )

    assert response.status_code == status
    project.refresh_from_db()
    renamed = (project.name, project.description) == ("Nuclei", "Stained slides")
    assert renamed == (status == 200)
