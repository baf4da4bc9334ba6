from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tests.webapp.conftest import AddMember, MakeImageRow, MakeProject, MakeUser, UserIn
from webapp.projects.models import LabelClass, Project

ROLES = ["viewer", "annotator", "reviewer", "manager", "owner"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/projects/", "/projects/1/"])
def test_anonymous_visitors_are_sent_to_sign_in(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_the_project_list_shows_my_projects_roles_and_progress(
    client: Client,
    make_user: MakeUser,
    make_project: MakeProject,
    add_member: AddMember,
    make_image_row: MakeImageRow,
) -> None:
    ann = make_user()
    mine = make_project(owner=ann, name="Cells")
    make_image_row(mine, status="ready")
    make_image_row(mine, status="pending")
    make_image_row(mine, status="failed")
    shared = make_project(name="Shared birds")
    add_member(shared, ann, "viewer")
    make_project(name="Hidden fish")
    client.force_login(ann)

    page = client.get("/projects/").content.decode()

    assert f'href="/projects/{mine.pk}/"' in page
    assert "Cells" in page and "Shared birds" in page
    assert "Hidden fish" not in page
    assert "viewer" in page and "owner" in page
    assert "1 / 3" in page


def test_creating_a_project_from_the_list_page(client: Client, make_user: MakeUser) -> None:
    ann = make_user()
    client.force_login(ann)

    response = client.post(
        "/projects/", {"name": "Cells", "description": "", "model": "mobile_sam"}
    )

    project = Project.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/projects/{project.pk}/"
    assert project.role_of(ann) == "owner"


def test_the_create_form_refuses_an_unknown_model(client: Client, make_user: MakeUser) -> None:
    client.force_login(make_user())

    response = client.post("/projects/", {"name": "Cells", "model": "sam_vit_zzz"})

    assert response.status_code == 200
    assert "sam_vit_zzz" in response.content.decode()
    assert not Project.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_every_member_sees_the_project_page(
    role: str,
    client: Client,
    make_project: MakeProject,
    user_in: UserIn,
    make_image_row: MakeImageRow,
) -> None:
    project = make_project(name="Cells")
    image = make_image_row(project, name="slide-01.png", status="encoding")
    failed = make_image_row(
        project, name="broken.png", status="failed", failure_reason="Not an image"
    )
    LabelClass.objects.create(project=project, name="nucleus", color="#123456", shortcut="n")
    client.force_login(user_in(project, role))

    response = client.get(f"/projects/{project.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Cells" in page
    assert f'href="/projects/{project.pk}/images/{image.pk}/annotate/"' in page
    assert 'class="badge encoding"' in page and "slide-01.png" in page
    assert 'class="badge failed" title="Not an image"' in page and failed.original_name in page
    assert "0 of 2 ready, 1 failed, 1 waiting" in page
    assert 'data-busy="1"' in page
    assert "nucleus" in page
    assert "projects/project.js" in page


@pytest.mark.parametrize(("role", "manages"), [(r, r in ("manager", "owner")) for r in ROLES])
def test_only_managers_get_the_upload_and_manage_forms(
    role: str, manages: bool, client: Client, make_project: MakeProject, user_in: UserIn
) -> None:
    project = make_project()
    client.force_login(user_in(project, role))

    page = client.get(f"/projects/{project.pk}/").content.decode()

    assert ('id="upload-form"' in page) == manages
    assert (f'data-api="/api/projects/{project.pk}/members/"' in page) == manages
    assert (f'data-api="/api/projects/{project.pk}/label-classes/"' in page) == manages


def test_only_an_owner_is_offered_the_owner_role(
    client: Client, make_project: MakeProject, user_in: UserIn
) -> None:
    project = make_project()
    manager = user_in(project, "manager")

    client.force_login(manager)
    as_manager = client.get(f"/projects/{project.pk}/").content.decode()
    client.force_login(user_in(project, "owner"))
    as_owner = client.get(f"/projects/{project.pk}/").content.decode()

    assert '<option value="owner"' not in as_manager
    assert '<option value="owner"' in as_owner


def test_an_outsider_gets_404_on_the_project_page(
    client: Client, make_project: MakeProject, user_in: UserIn
) -> None:
    project = make_project(name="Secret")
    client.force_login(user_in(project, "outsider"))

    response = client.get(f"/projects/{project.pk}/")

    assert response.status_code == 404
    assert "Secret" not in response.content.decode()


def test_a_quiet_project_does_not_poll(
    client: Client, make_project: MakeProject, user_in: UserIn, make_image_row: MakeImageRow
) -> None:
    project = make_project()
    make_image_row(project, status="ready")
    client.force_login(user_in(project, "viewer"))

    page = client.get(f"/projects/{project.pk}/").content.decode()

    assert 'data-busy=""' in page
    assert "1 of 1 ready" in page


def test_a_tile_shows_its_thumbnail_and_its_annotation_count(
    client: Client, make_project: MakeProject, user_in: UserIn, make_image_row: MakeImageRow
) -> None:
    from django.core.files.base import ContentFile

    project = make_project()
    image = make_image_row(project, name="slide.png", status="ready")
    image.thumbnail.save("t.jpg", ContentFile(b"jpeg"), save=True)
    client.force_login(user_in(project, "viewer"))

    page = client.get(f"/projects/{project.pk}/").content.decode()

    assert f'src="/api/projects/{project.pk}/images/{image.pk}/thumbnail"' in page
    assert 'data-annotations="0"' in page


def gallery_names(page: str) -> list[str]:
    return re.findall(r'<figure class="tile" data-image-id="\d+" data-name="([^"]+)"', page)


@pytest.fixture
def filtered_project(make_project: MakeProject, make_image_row: MakeImageRow) -> Project:
    from tests.webapp.test_projects_image_deletion import annotate

    project = make_project()
    label = LabelClass.objects.create(project=project, name="cell")
    annotate(make_image_row(project, name="cat-1.png", status="ready"), label)
    make_image_row(project, name="cat-2.png", status="failed")
    make_image_row(project, name="dog-1.png", status="ready")
    return project


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("", ["cat-1.png", "cat-2.png", "dog-1.png"]),
        ("?name=CAT", ["cat-1.png", "cat-2.png"]),
        ("?status=ready", ["cat-1.png", "dog-1.png"]),
        ("?annotated=true", ["cat-1.png"]),
        ("?annotated=false&name=cat", ["cat-2.png"]),
        ("?status=ready&annotated=false", ["dog-1.png"]),
        ("?name=bird", []),
    ],
)
def test_the_gallery_filters_by_name_status_and_annotations(
    query: str,
    names: list[str],
    filtered_project: Project,
    client: Client,
    user_in: UserIn,
) -> None:
    client.force_login(user_in(filtered_project, "viewer"))

    page = client.get(f"/projects/{filtered_project.pk}/{query}").content.decode()

    assert gallery_names(page) == names
    if not names:
        assert "No images match these filters." in page


def test_filters_stay_in_the_form_the_polling_url_and_the_page_links(
    filtered_project: Project, client: Client, user_in: UserIn, monkeypatch: Any
) -> None:
    from webapp.projects import views

    monkeypatch.setattr(views, "IMAGES_PER_PAGE", 1)
    client.force_login(user_in(filtered_project, "viewer"))

    page = client.get(f"/projects/{filtered_project.pk}/?name=cat&status=&page=1").content.decode()

    assert gallery_names(page) == ["cat-1.png"]
    assert 'name="name" value="cat"' in page
    assert f'data-list-url="/api/projects/{filtered_project.pk}/gallery/?name=cat"' in page
    assert 'href="?name=cat&page=2"' in page
    assert "Page 1 of 2" in page


def test_a_bad_filter_value_is_reported_and_ignored(
    filtered_project: Project, client: Client, user_in: UserIn
) -> None:
    client.force_login(user_in(filtered_project, "viewer"))

    response = client.get(f"/projects/{filtered_project.pk}/?status=sleeping&name=dog")

    assert response.status_code == 200
    page = response.content.decode()
    assert gallery_names(page) == ["dog-1.png"]
    assert "This filter was ignored." in page


@pytest.mark.parametrize("role", ROLES)
def test_settings_and_deletion_are_offered_by_role(
    role: str, client: Client, make_project: MakeProject, user_in: UserIn, make_image_row: Any
) -> None:
    project = make_project(name="Cells")
    make_image_row(project)
    client.force_login(user_in(project, role))

    page = client.get(f"/projects/{project.pk}/").content.decode()

    manages = role in ("manager", "owner")
    assert ('id="project-form"' in page) == manages
    assert ('class="pick"' in page) == manages
    assert ('id="delete-selected"' in page) == manages
    assert ('id="delete-project-form"' in page) == (role == "owner")
    assert ('data-confirm-name="Cells"' in page) == (role == "owner")


def test_the_menu_links_to_the_password_page_the_api_docs_and_for_staff_the_admin(
    client: Client, make_user: MakeUser
) -> None:
    client.force_login(make_user())
    plain = client.get("/projects/").content.decode()
    client.force_login(make_user(is_staff=True))
    staff = client.get("/projects/").content.decode()

    assert 'href="/accounts/password/"' in plain and 'href="/api/docs/"' in plain
    assert 'href="/admin/"' not in plain
    assert 'href="/admin/"' in staff
