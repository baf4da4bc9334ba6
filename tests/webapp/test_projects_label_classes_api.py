from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.webapp.conftest import ApiClientFor, MakeImageRow, MakeProject, MakeUser, UserIn
from webapp.annotations.models import Annotation
from webapp.projects.models import LabelClass, Project


def classes_url(project_pk: int, class_pk: int | None = None) -> str:
    base = f"/api/projects/{project_pk}/label-classes/"
    return base if class_pk is None else f"{base}{class_pk}/"


@pytest.fixture
def project(make_project: MakeProject) -> Project:
    project = make_project()
    LabelClass.objects.create(project=project, name="cat", color="#ff0000", shortcut="c", order=0)
    return project


@pytest.fixture
def owner_client(project: Project, user_in: UserIn, api_client: ApiClientFor) -> APIClient:
    return api_client(user_in(project, "owner"))


@pytest.mark.parametrize("role", ["viewer", "annotator", "reviewer", "manager", "owner"])
def test_every_member_reads_the_label_classes(
    role: str, project: Project, user_in: UserIn, api_client: ApiClientFor
) -> None:
    response = api_client(user_in(project, role)).get(classes_url(project.pk))

    assert response.status_code == 200
    assert [
        (c["name"], c["color"], c["shortcut"], c["annotation_count"])
        for c in response.json()["results"]
    ] == [("cat", "#ff0000", "c", 0)]


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", 403), ("annotator", 403), ("reviewer", 403), ("manager", 201), ("owner", 201)],
)
def test_managers_create_label_classes(
    role: str, expected: int, project: Project, user_in: UserIn, api_client: ApiClientFor
) -> None:
    response = api_client(user_in(project, role)).post(
        classes_url(project.pk),
        {"name": "dog", "color": "#00AA00", "shortcut": "d", "order": 1},
        format="json",
    )

    assert response.status_code == expected
    stored = project.label_classes.filter(name="dog")
    if expected == 201:
        assert stored.get().color == "#00aa00"
    else:
        assert not stored.exists()


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", 403), ("annotator", 403), ("reviewer", 403), ("manager", 200), ("owner", 200)],
)
def test_managers_edit_label_classes(
    role: str, expected: int, project: Project, user_in: UserIn, api_client: ApiClientFor
) -> None:
    cat = project.label_classes.get()

    response = api_client(user_in(project, role)).patch(
        classes_url(project.pk, cat.pk), {"name": "kitten", "order": 5}, format="json"
    )

    assert response.status_code == expected
    cat.refresh_from_db()
    assert (cat.name, cat.order) == (("kitten", 5) if expected == 200 else ("cat", 0))


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", 403), ("annotator", 403), ("reviewer", 403), ("manager", 204), ("owner", 204)],
)
def test_managers_delete_unused_label_classes(
    role: str, expected: int, project: Project, user_in: UserIn, api_client: ApiClientFor
) -> None:
    cat = project.label_classes.get()

    response = api_client(user_in(project, role)).delete(classes_url(project.pk, cat.pk))

    assert response.status_code == expected
    assert LabelClass.objects.filter(pk=cat.pk).exists() == (expected != 204)


def test_an_outsider_gets_404_for_label_classes(
    project: Project, user_in: UserIn, api_client: ApiClientFor
) -> None:
    cat = project.label_classes.get()
    client = api_client(user_in(project, "outsider"))

    assert client.get(classes_url(project.pk)).status_code == 404
    assert client.post(classes_url(project.pk), {"name": "x"}, format="json").status_code == 404
    assert (
        client.patch(classes_url(project.pk, cat.pk), {"name": "x"}, format="json").status_code
        == 404
    )
    assert client.delete(classes_url(project.pk, cat.pk)).status_code == 404
    assert list(project.label_classes.values_list("name", flat=True)) == ["cat"]


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"name": "cat"}, "name", "A label class named 'cat' already exists in this project."),
        ({"name": "CAT"}, "name", "A label class named 'CAT' already exists in this project."),
        (
            {"name": "dog", "shortcut": "c"},
            "shortcut",
            "The shortcut 'c' is already used by 'cat'.",
        ),
        ({"name": "dog", "color": "red"}, "color", "Give a colour as #rrggbb."),
        ({"name": "dog", "color": "#12345"}, "color", "Give a colour as #rrggbb."),
        ({"name": "dog", "shortcut": "dd"}, "shortcut", "no more than 1 character"),
        ({"name": "  "}, "name", "blank"),
    ],
)
def test_bad_label_classes_are_refused_with_a_message(
    payload: dict[str, str], field: str, message: str, project: Project, owner_client: APIClient
) -> None:
    response = owner_client.post(classes_url(project.pk), payload, format="json")

    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert project.label_classes.count() == 1


def test_renaming_onto_another_class_is_refused(project: Project, owner_client: APIClient) -> None:
    dog = LabelClass.objects.create(project=project, name="dog", shortcut="d")

    response = owner_client.patch(
        classes_url(project.pk, dog.pk), {"name": "cat", "shortcut": "c"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"name", "shortcut"}
    dog.refresh_from_db()
    assert (dog.name, dog.shortcut) == ("dog", "d")


def test_saving_a_class_with_its_own_name_and_shortcut_is_fine(
    project: Project, owner_client: APIClient
) -> None:
    cat = project.label_classes.get()

    response = owner_client.patch(
        classes_url(project.pk, cat.pk),
        {"name": "cat", "shortcut": "c", "color": "#00ff00"},
        format="json",
    )

    assert response.status_code == 200
    cat.refresh_from_db()
    assert cat.color == "#00ff00"


def test_the_same_name_and_shortcut_are_fine_in_another_project(
    project: Project, make_project: MakeProject, make_user: MakeUser, api_client: ApiClientFor
) -> None:
    olga = make_user()
    other = make_project(owner=olga)

    response = api_client(olga).post(
        classes_url(other.pk), {"name": "cat", "shortcut": "c"}, format="json"
    )

    assert response.status_code == 201
    assert other.label_classes.get().name == "cat"


def test_a_class_in_use_cannot_be_deleted(
    project: Project, owner_client: APIClient, make_image_row: MakeImageRow
) -> None:
    cat = project.label_classes.get()
    image = make_image_row(project)
    Annotation.objects.create(image=image, label_class=cat, rle={}, bbox=[0, 0, 1, 1], area=1)

    response = owner_client.delete(classes_url(project.pk, cat.pk))

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "The label class 'cat' is used by 1 annotation; delete or relabel them first."
    )
    assert LabelClass.objects.filter(pk=cat.pk).exists()


def test_another_projects_class_ids_are_404(
    project: Project, make_project: MakeProject, make_user: MakeUser, api_client: ApiClientFor
) -> None:
    olga = make_user()
    mine = make_project(owner=olga)
    their_cat = project.label_classes.get()
    client = api_client(olga)

    assert client.get(classes_url(mine.pk, their_cat.pk)).status_code == 404
    patched = client.patch(classes_url(mine.pk, their_cat.pk), {"name": "x"}, format="json")
    deleted = client.delete(classes_url(mine.pk, their_cat.pk))

    assert (patched.status_code, deleted.status_code) == (404, 404)
    their_cat.refresh_from_db()
    assert their_cat.name == "cat"


def test_new_classes_without_a_colour_each_get_one_their_project_does_not_use(
    project: Project, owner_client: APIClient
) -> None:
    LabelClass.objects.create(project=project, name="first", color="#E6194B")
    colors = []
    for name in ("dog", "bird", "fish"):
        response = owner_client.post(classes_url(project.pk), {"name": name}, format="json")
        assert response.status_code == 201, response.json()
        colors.append(response.json()["color"])

    used = [c.lower() for c in project.label_classes.values_list("color", flat=True)]
    assert len(set(used)) == len(used) == 5
    assert colors == ["#3cb44b", "#4363d8", "#ffe119"]


def test_the_project_page_offers_a_colour_no_class_uses_yet(
    project: Project, user_in: UserIn
) -> None:
    client = Client()
    client.force_login(user_in(project, "manager"))
    page = client.get(f"/projects/{project.pk}/").content.decode()

    # The project's one class is #ff0000, so the palette's first colour is free.
    assert 'type="color" name="color" value="#e6194b"' in page
    LabelClass.objects.create(project=project, name="dog", color="#e6194b")
    page = client.get(f"/projects/{project.pk}/").content.decode()
    assert 'type="color" name="color" value="#3cb44b"' in page


@pytest.mark.parametrize("name", ["dog\ncat", "dog\tcat", "dog\rcat", "dog\u2028cat", "x" * 101])
def test_names_with_control_characters_or_too_long_are_refused(
    name: str, project: Project, owner_client: APIClient
) -> None:
    # A newline in a name would shift every class after it in VOC's class_names.txt.
    response = owner_client.post(classes_url(project.pk), {"name": name}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()
    assert not project.label_classes.exclude(name="cat").exists()
