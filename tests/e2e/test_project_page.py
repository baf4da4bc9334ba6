"""The project page in a real browser: the upload report, the gallery following new
images and their status without a reload, deleting images, filters, the project's
settings and deletion, and inviting someone by e-mail who then accepts the link."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from django.core import mail
from django.core.files.base import ContentFile
from PIL import Image as PILImage

from tests.e2e.conftest import PASSWORD, png_bytes
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.projects.models import Invitation, LabelClass, Membership, Project

pytestmark = pytest.mark.django_db(transaction=True)

# Screenshots for a person to look at, when SAMLABEL_SCREENSHOTS names a folder.
SCREENSHOTS = os.environ.get("SAMLABEL_SCREENSHOTS", "")


def screenshot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def picture(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    return png_bytes(pixels)


def image_row(project: Project, name: str, status: str = "ready", reason: str = "") -> Image:
    """An image row with a stored picture and thumbnail, in ``status``; nothing encoded."""
    content = picture(len(name) * 31 + sum(map(ord, name)))
    thumbnail = io.BytesIO()
    PILImage.open(io.BytesIO(content)).convert("RGB").save(thumbnail, format="JPEG")
    image = Image(
        project=project,
        original_name=name,
        width=64,
        height=48,
        sha256=hashlib.sha256(content).hexdigest(),
        status=status,
        failure_reason=reason,
    )
    image.file.save("original.png", ContentFile(content), save=False)
    image.thumbnail.save("thumbnail.jpg", ContentFile(thumbnail.getvalue()), save=False)
    image.save()
    return image


def annotate(image: Image, label: LabelClass) -> Annotation:
    mask = np.zeros((image.height, image.width), dtype=bool)
    mask[10:20, 10:30] = True
    counts = rle.encode(mask)
    return Annotation.objects.create(
        image=image, label_class=label, rle=counts, bbox=rle.bbox(counts), area=rle.area(counts)
    )


@pytest.fixture
def project_page(
    live_server: Any, e2e_settings: Any, django_user_model: Any, signed_in: Any
) -> Callable[..., tuple[Any, Project]]:
    """``project_page(role="owner")``: a project "Kitchen" (owned by "owner"), and a
    browser page on it signed in as a user of ``role`` there."""
    owner = django_user_model.objects.create_user("owner", password=PASSWORD)
    project = Project.create_with_owner(owner, name="Kitchen")

    def open_page(role: str = "owner") -> tuple[Any, Project]:
        username = "owner"
        if role != "owner":
            username = role
            user = django_user_model.objects.create_user(username, password=PASSWORD)
            Membership.objects.create(project=project, user=user, role=role)
        page = signed_in(live_server.url, username)
        page.goto(f"{live_server.url}/projects/{project.pk}/")
        # Set on the page's window: gone if anything reloads the page.
        page.evaluate("window.notReloaded = true")
        return page, project

    return open_page


def still_the_same_page(page: Any) -> bool:
    return bool(page.evaluate("window.notReloaded === true"))


def badge_of(page: Any, image: Image) -> Any:
    return page.locator(f'.tile[data-image-id="{image.pk}"] .badge')


def test_the_upload_report_counts_each_outcome_and_the_grid_shows_the_new_image(
    project_page: Any,
) -> None:
    page, project = project_page()
    assert page.locator("#gallery-empty").inner_text() == "No images yet. Upload some above."
    photo = picture(1)

    page.set_input_files(
        "#upload-form input[type=file]",
        [
            {"name": "kitchen.png", "mimeType": "image/png", "buffer": photo},
            {"name": "kitchen-copy.png", "mimeType": "image/png", "buffer": photo},
            {"name": "notes.png", "mimeType": "image/png", "buffer": b"these are notes"},
            {"name": "empty.png", "mimeType": "image/png", "buffer": b""},
        ],
    )
    page.click("#upload-form button[type=submit]")
    # The upload request encodes the new image with the real model (eager tasks), which
    # loads it first: far slower than a page action on a busy machine.
    page.wait_for_selector("#upload-text[data-done='1']", timeout=180_000)

    assert page.locator("#upload-text").inner_text() == "1 uploaded, 1 duplicate, 2 rejected."
    problems = page.locator("#upload-results li").all_inner_texts()
    assert len(problems) == 3
    assert problems[0].startswith("rejected notes.png — ")
    assert problems[1] == "rejected empty.png — the file is empty"
    assert problems[2] == "duplicate kitchen-copy.png — already in this project"
    # The grid shows the new image (encoded at once in these tests) without a reload.
    image = Image.objects.get(project=project)
    badge_of(page, image).filter(has_text="ready").wait_for()
    assert page.locator("#gallery-empty").is_hidden()
    assert page.locator("#progress-text").inner_text() == "1 of 1 ready"
    assert page.locator(f'.tile[data-image-id="{image.pk}"] img').get_attribute("src") == (
        f"/api/projects/{project.pk}/images/{image.pk}/thumbnail"
    )
    assert still_the_same_page(page)
    screenshot(page, "upload-report")


def test_the_grid_follows_new_images_and_status_changes_then_stops_polling(
    project_page: Any,
) -> None:
    page, project = project_page()
    waiting = image_row(project, "waiting.png", status="pending")
    doomed = image_row(project, "doomed.png", status="encoding")
    page.reload()
    page.evaluate("window.notReloaded = true")
    assert page.locator("#gallery").get_attribute("data-polling") == "1"
    assert badge_of(page, waiting).inner_text() == "pending"

    late = image_row(project, "late.png", status="pending")
    page.locator(f'.tile[data-image-id="{late.pk}"]').wait_for()
    waiting.set_status("ready")
    doomed.set_status("failed", "The image could not be decoded.")
    late.set_status("ready")

    page.wait_for_selector("#gallery[data-polling='']")
    assert badge_of(page, waiting).inner_text() == "ready"
    assert badge_of(page, late).inner_text() == "ready"
    assert badge_of(page, doomed).inner_text() == "failed"
    assert badge_of(page, doomed).get_attribute("title") == "The image could not be decoded."
    assert page.locator("#progress-text").inner_text() == "2 of 3 ready, 1 failed"
    # The project's deletion notice counts the image that came in too.
    assert page.locator("#delete-image-count").inner_text() == "3 images"
    assert still_the_same_page(page)


def test_a_manager_deletes_images_after_confirming(project_page: Any) -> None:
    page, project = project_page("manager")
    label = LabelClass.objects.create(project=project, name="cup")
    first, second, third = (image_row(project, f"photo{n}.png") for n in range(3))
    annotate(first, label)
    annotate(first, label)
    page.reload()
    dialogs: list[str] = []
    answers = iter([False, True, True])

    def answer(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept() if next(answers) else dialog.dismiss()

    page.on("dialog", answer)
    first_delete = page.locator(f'.tile[data-image-id="{first.pk}"] .tile-delete')

    first_delete.click()  # dismissed: nothing happens
    assert page.locator(".tile").count() == 3
    first_delete.click()
    page.locator(f'.tile[data-image-id="{first.pk}"]').wait_for(state="detached")

    assert dialogs[0] == (
        "Delete photo0.png and 2 annotations on it? The files and embeddings go too. "
        "This cannot be undone."
    )
    assert not Image.objects.filter(pk=first.pk).exists()
    assert not Annotation.objects.exists()

    page.check(f'.tile[data-image-id="{second.pk}"] .pick')
    page.check(f'.tile[data-image-id="{third.pk}"] .pick')
    assert page.locator("#delete-selected").inner_text() == "Delete 2 selected images"
    screenshot(page, "gallery-selection")
    page.click("#delete-selected")
    page.locator("#gallery-empty").wait_for()

    assert dialogs[2] == (
        "Delete 2 images? The files and embeddings go too. This cannot be undone."
    )
    assert not Image.objects.exists()
    assert page.locator("#progress-text").inner_text() == "0 of 0 ready"


def test_an_annotator_is_offered_no_deletion(project_page: Any) -> None:
    page, project = project_page("annotator")
    image_row(project, "photo.png")
    page.reload()

    assert page.locator(".tile").count() == 1
    assert page.locator(".tile-delete, .pick, #delete-selected, #settings").count() == 0


def test_the_filters_survive_a_reload_and_the_page_links(
    project_page: Any, settings: Any, monkeypatch: Any
) -> None:
    from webapp.projects import views

    monkeypatch.setattr(views, "IMAGES_PER_PAGE", 1)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "PAGE_SIZE": 1}
    page, project = project_page("viewer")
    label = LabelClass.objects.create(project=project, name="cup")
    annotate(image_row(project, "cup-1.png"), label)
    image_row(project, "cup-2.png", status="failed", reason="broken")
    image_row(project, "cup-3.png")
    image_row(project, "plate.png")

    page.reload()
    page.fill("#gallery-filter [name=name]", "cup")
    page.select_option("#gallery-filter [name=annotated]", "false")
    page.click("#gallery-filter button[type=submit]")
    page.wait_for_url(re.compile(r"name=cup"))

    def names() -> list[str]:
        return page.locator(".tile .name").all_inner_texts()

    assert names() == ["cup-2.png"]
    assert page.locator("#gallery-count").inner_text() == "2 images match"
    page.click("#pagination >> text=Next →")
    page.wait_for_url(re.compile(r"page=2"))
    assert names() == ["cup-3.png"]
    page.reload()
    assert names() == ["cup-3.png"]
    assert page.input_value("#gallery-filter [name=name]") == "cup"
    assert page.input_value("#gallery-filter [name=annotated]") == "false"
    assert "annotated=false" in page.url and "name=cup" in page.url
    screenshot(page, "filters")

    page.select_option("#gallery-filter [name=status]", "failed")
    page.click("#gallery-filter button[type=submit]")
    page.wait_for_url(re.compile(r"status=failed"))
    assert names() == ["cup-2.png"]
    page.click("#clear-filters")
    page.wait_for_url(re.compile(r"/projects/\d+/$"))
    assert page.locator("#gallery-count").inner_text() == "4 images"


def test_a_manager_renames_and_describes_the_project(project_page: Any) -> None:
    page, project = project_page("manager")

    page.fill("#project-form [name=name]", "Kitchen shelves")
    page.fill("#project-form [name=description]", "Cups and plates, photographed from above.")
    page.click("#project-form button[type=submit]")
    page.wait_for_function(
        "() => document.getElementById('project-name').textContent === 'Kitchen shelves'"
    )

    assert page.locator("#project-description").inner_text() == (
        "Cups and plates, photographed from above."
    )
    project.refresh_from_db()
    assert project.name == "Kitchen shelves"
    assert page.locator("#delete-project-form").count() == 0  # managers do not delete
    screenshot(page, "settings")


def test_an_owner_deletes_the_project_by_typing_its_name(project_page: Any) -> None:
    page, project = project_page("owner")
    image_row(project, "photo.png")
    button = page.locator("#delete-project-form button")

    assert button.is_disabled()
    page.fill("#delete-project-form input", "kitchen")
    assert button.is_disabled()
    page.fill("#delete-project-form input", "Kitchen")
    assert button.is_enabled()
    button.click()
    page.wait_for_url(re.compile(r"/projects/$"))

    assert not Project.objects.exists()
    assert not Image.objects.exists()
    assert "Kitchen" not in page.locator("main").inner_text()


def test_an_invitation_by_email_is_accepted_through_its_link(
    project_page: Any, browser: Any
) -> None:
    page, project = project_page("manager")

    page.fill("#add-member-form [name=user]", "bob")
    page.click("#add-member-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#add-member-form .error')?.textContent")
    assert page.locator("#add-member-form .error").inner_text() == (
        "user: No one named 'bob' shares a project with you. Invite them by e-mail instead."
    )

    page.fill("#add-member-form [name=user]", "bea@example.org")
    page.select_option("#add-member-form [name=role]", "reviewer")
    page.click("#add-member-form button[type=submit]")
    page.locator("#invitations", has_text="bea@example.org").wait_for()
    screenshot(page, "invitation-sent")

    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+/accounts/invitations/\S+/", mail.outbox[0].body).group(0)
    stranger = browser.new_context()
    try:
        invited = stranger.new_page()
        invited.goto(link)
        assert "invites you to this project as reviewer" in invited.inner_text("main")
        invited.fill("[name=username]", "bea")
        invited.fill("[name=password1]", PASSWORD)
        invited.fill("[name=password2]", PASSWORD)
        invited.click("#invitation-form button[type=submit]")
        invited.wait_for_url(re.compile(rf"/projects/{project.pk}/$"))

        assert "Welcome to Kitchen. Your role: reviewer." in invited.inner_text(".messages")
        assert invited.locator(".who").inner_text() == "bea"
        screenshot(invited, "invitation-accepted")
        invited.goto(link)
        assert "already been used" in invited.inner_text("main")
    finally:
        stranger.close()
    assert Invitation.objects.get().accepted_by.username == "bea"
    assert Membership.objects.get(project=project, user__username="bea").role == "reviewer"


def test_the_label_classes_say_how_class_suggestions_are_preselected_here(
    project_page: Any,
) -> None:
    from webapp.suggestions.models import AnnotationFeature, feature_bytes

    page, project = project_page("annotator")
    line = page.locator("#suggestion-calibration")
    assert line.count() == 0  # no label classes yet: nothing to suggest
    cup = LabelClass.objects.create(project=project, name="cup", color="#ff8800")
    plate = LabelClass.objects.create(project=project, name="plate", color="#0088ff")
    page.reload()
    page.wait_for_function(
        "() => document.getElementById('suggestion-calibration').dataset.state === 'unmeasured'"
    )
    assert "until there are enough labels" in line.inner_text()
    assert "0 labelled annotations so far" in line.inner_text()

    # Twelve cups and twelve plates whose features tell them apart: every vote is right.
    image = image_row(project, "shelf.png")
    rng = np.random.default_rng(0)
    for label, axis in [(cup, 0), (plate, 1)] * 12:
        vector = np.eye(256, dtype=np.float32)[axis] + 0.05 * rng.standard_normal(256)
        AnnotationFeature.objects.create(
            annotation=annotate(image, label),
            project=project,
            model=project.model,
            vector=feature_bytes((vector / np.linalg.norm(vector)).astype(np.float32)),
            mask_sha1="-",
        )
    page.reload()
    page.wait_for_function(
        "() => document.getElementById('suggestion-calibration').dataset.state === 'measured'"
    )
    text = line.inner_text()
    assert "pre-selected from 50 % of the neighbours' votes" in text
    assert "got the right class 100 % of the time (24 votes measured; the aim is 80 %)" in text
    screenshot(page, "suggestion-calibration")
