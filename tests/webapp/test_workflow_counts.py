"""The counts the gallery, the project page and the dashboard read (each image's
annotation count, the tallies per label class and author, the workflow figures per member
and day) stay equal to what counting the tables gives, whatever path changes them:
the annotations API and service, the ORM, dataset imports, image deletion, moves."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from tests.webapp.conftest import ApiClientFor, MakeImageRow, MakeProject, UserIn
from tests.webapp.factories_imports import (
    HEIGHT,
    WIDTH,
    annotation,
    box_mask,
    coco_document,
    coco_rle,
    json_file,
    post_import,
    store_image,
)
from webapp.annotations import rle as rle_codec
from webapp.annotations.models import Annotation
from webapp.annotations.services import create_annotation, delete_annotation, edit_annotation
from webapp.images.models import Image
from webapp.projects.models import LabelClass, Project
from webapp.workflow.models import AnnotationTally, DailyWork, WorkItem
from webapp.workflow.queue import next_to_annotate
from webapp.workflow.recount import annotations_imported, recount, recount_days, tally_figures
from webapp.workflow.rules import perform

pytestmark = pytest.mark.django_db


def mask_rle(rng: random.Random) -> dict[str, Any]:
    """A random non-empty box mask on a WIDTH x HEIGHT image."""
    x0, y0 = rng.randrange(WIDTH - 1), rng.randrange(HEIGHT - 1)
    x1, y1 = rng.randrange(x0 + 1, WIDTH + 1), rng.randrange(y0 + 1, HEIGHT + 1)
    return rle_codec.encode(box_mask(x0, y0, x1, y1))


def kept(project: Project) -> tuple[dict[Any, tuple[int, int]], dict[int, int]]:
    """The kept counts: ``{(class, author): (count, area)}`` without empty ones, and
    ``{image id: annotation count}``."""
    tallies = {(c, a): (n, area) for c, a, n, area in tally_figures(project) if n or area}
    images = dict(WorkItem.objects.filter(project=project).values_list("pk", "annotation_count"))
    return tallies, images


def counted(project: Project) -> tuple[dict[Any, tuple[int, int]], dict[int, int]]:
    """The same figures counted from the annotations table."""
    grouped = (
        Annotation.objects.filter(image__project=project)
        .order_by()
        .values_list("label_class_id", "author_id")
        .annotate(n=Count("pk"), area=Sum("area"))
    )
    tallies = {(c, a): (n, area) for c, a, n, area in grouped}
    images = dict(
        Image.objects.filter(project=project)
        .annotate(n=Count("annotations"))
        .values_list("pk", "n")
    )
    return tallies, images


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_saves_edits_deletes_imports_and_image_deletions_keep_the_counts_exact(
    seed: int, make_project: MakeProject, user_in: UserIn, make_image_row: MakeImageRow
) -> None:
    rng = random.Random(seed)
    project = make_project()
    people: list[Any] = [user_in(project, "annotator"), user_in(project, "owner"), None]
    classes = [LabelClass.objects.create(project=project, name=f"c{n}") for n in range(3)]
    images = [make_image_row(project, width=WIDTH, height=HEIGHT) for _ in range(6)]
    done: list[str] = []

    for _ in range(60):
        annotations = list(Annotation.objects.filter(image__project=project))
        op = rng.choice(
            ["create", "create", "orm", "class", "mask", "delete", "delete_any", "import",
             "image", "images"]
        )  # fmt: skip
        if op in {"class", "mask", "delete", "delete_any"} and not annotations:
            op = "create"
        if op in {"image", "images"} and len(images) < 3:
            images.append(make_image_row(project, width=WIDTH, height=HEIGHT))
            op = "create"
        if op == "create":
            create_annotation(
                rng.choice(images), author=rng.choice(people),
                label_class=rng.choice(classes).pk, rle=mask_rle(rng),
            )  # fmt: skip
        elif op == "orm":
            rle = mask_rle(rng)
            Annotation.objects.create(
                image=rng.choice(images), label_class=rng.choice(classes), rle=rle,
                bbox=rle_codec.bbox(rle), area=rle_codec.area(rle), author=rng.choice(people),
            )  # fmt: skip
        elif op == "class":
            chosen = rng.choice(annotations)
            edit_annotation(chosen, chosen.version, {"label_class": rng.choice(classes).pk})
        elif op == "mask":
            chosen = rng.choice(annotations)
            edit_annotation(chosen, chosen.version, {"rle": mask_rle(rng)}, rng.choice(people))
        elif op == "delete":
            chosen = rng.choice(annotations)
            delete_annotation(chosen, chosen.version, None)
        elif op == "delete_any":
            delete_annotation(rng.choice(annotations), None, None)
        elif op == "import":
            rows = []
            for _ in range(rng.randrange(1, 6)):
                rle = mask_rle(rng)
                rows.append(
                    Annotation(
                        image=rng.choice(images), label_class=rng.choice(classes), rle=rle,
                        bbox=rle_codec.bbox(rle), area=rle_codec.area(rle),
                        author=rng.choice(people),
                    )
                )  # fmt: skip
            annotations_imported(Annotation.objects.bulk_create(rows))
        elif op == "image":
            images.pop(rng.randrange(len(images))).delete_with_files()
        else:
            gone = [images.pop(rng.randrange(len(images))) for _ in range(2)]
            Image.objects.filter(pk__in=[i.pk for i in gone]).delete_with_files()
        done.append(op)
        assert kept(project) == counted(project), done

    assert Annotation.objects.filter(image__project=project).exists()
    assert set(done) >= {"create", "class", "mask", "delete", "import", "image"}


def test_the_dashboard_and_the_gallery_follow_the_annotations_api(
    make_project: MakeProject, user_in: UserIn, make_image_row: MakeImageRow,
    api_client: ApiClientFor, client: Any,
) -> None:  # fmt: skip
    browser = client
    project = make_project()
    owner = user_in(project, "owner")
    client = api_client(owner)
    cat = LabelClass.objects.create(project=project, name="cat", order=0)
    dog = LabelClass.objects.create(project=project, name="dog", order=1)
    first, second = (make_image_row(project, width=WIDTH, height=HEIGHT) for _ in range(2))
    p = project.pk

    def save(image: Any, label: LabelClass, mask: np.ndarray) -> dict[str, Any]:
        url = f"/api/projects/{p}/images/{image.pk}/annotations/"
        response = client.post(url, {"label_class": label.pk, "rle": coco_rle(mask)}, "json")
        assert response.status_code == 201, response.content
        body: dict[str, Any] = response.json()
        return body

    def classes() -> dict[str, tuple[int, int]]:
        body = client.get(f"/api/projects/{p}/dashboard/").json()
        return {c["name"]: (c["annotations"], c["area_sum"]) for c in body["label_classes"]}

    def gallery(query: str) -> list[tuple[str, int]]:
        body = client.get(f"/api/projects/{p}/gallery/{query}").json()
        return [(r["original_name"], r["annotation_count"]) for r in body["results"]]

    saved = save(first, cat, box_mask(0, 0, 10, 10))  # 100 pixels
    save(first, cat, box_mask(0, 0, 5, 2))  # 10
    save(second, dog, box_mask(0, 0, 3, 3))  # 9
    assert classes() == {"cat": (2, 110), "dog": (1, 9)}
    assert gallery("?sort=annotations") == [(first.original_name, 2), (second.original_name, 1)]
    assert gallery(f"?label={dog.pk}") == [(second.original_name, 1)]

    # The big cat becomes a dog of 4 pixels.
    changed = client.patch(
        f"/api/projects/{p}/annotations/{saved['id']}/",
        {"version": saved["version"], "label_class": dog.pk, "rle": coco_rle(box_mask(0, 0, 2, 2))},
        "json",
    )
    assert changed.status_code == 200, changed.content
    assert classes() == {"cat": (1, 10), "dog": (2, 13)}
    assert [name for name, _ in gallery(f"?label={dog.pk}")] == [
        first.original_name,
        second.original_name,
    ]

    deleted = client.delete(
        f"/api/projects/{p}/annotations/{saved['id']}/", HTTP_IF_MATCH=f'"{saved["version"] + 1}"'
    )
    assert deleted.status_code == 204, deleted.content
    assert classes() == {"cat": (1, 10), "dog": (1, 9)}
    assert gallery("?annotated=false") == []

    gone = client.post(f"/api/projects/{p}/images/delete/", {"ids": [first.pk]}, "json")
    assert gone.status_code == 200, gone.content
    assert classes() == {"cat": (0, 0), "dog": (1, 9)}
    assert gallery("?annotated=true") == [(second.original_name, 1)]
    # The project page: 1 of 1 image ready (the other is pending), 1 annotation in all.
    browser.force_login(owner)
    page = browser.get(f"/projects/{p}/").content.decode()
    assert "1 annotation, label classes" in page
    assert "0 of 1 ready" in page


def test_a_dataset_import_counts_its_annotations(
    make_project: MakeProject, user_in: UserIn, api_client: ApiClientFor, media_root: Any
) -> None:
    project = make_project()
    owner = api_client(user_in(project, "owner"))
    image = store_image(project, "photo.png")
    document = coco_document(
        [
            annotation(1, segmentation=coco_rle(box_mask(0, 0, 4, 5))),
            annotation(2, segmentation=coco_rle(box_mask(0, 0, 10, 10))),
        ],
        images=[{"id": 1, "file_name": "photo.png", "width": WIDTH, "height": HEIGHT}],
    )

    response = post_import(owner, project, json_file(document))

    assert response.status_code == 201, response.json()
    assert WorkItem.objects.get(pk=image.pk).annotation_count == 2
    body = owner.get(f"/api/projects/{project.pk}/dashboard/").json()
    assert [(c["name"], c["annotations"], c["area_sum"]) for c in body["label_classes"]] == [
        ("cat", 2, 120)
    ]
    assert kept(project) == counted(project)


def test_recount_tallies_rebuilds_what_a_bulk_change_left_wrong(
    make_project: MakeProject, user_in: UserIn, make_image_row: MakeImageRow
) -> None:
    project = make_project()
    author = user_in(project, "annotator")
    label = LabelClass.objects.create(project=project, name="cat")
    image = make_image_row(project, width=WIDTH, height=HEIGHT)
    rng = random.Random(5)
    for _ in range(3):
        create_annotation(image, author=author, label_class=label.pk, rle=mask_rle(rng))
    right = counted(project)
    # A bulk update and delete go round the counts.
    Annotation.objects.filter(image=image).update(area=1)
    Annotation.objects.filter(pk=Annotation.objects.first().pk).delete()  # type: ignore[union-attr]
    AnnotationTally.objects.create(project=project, label_class=label, count=7, area_sum=7)
    assert kept(project) != counted(project)

    call_command("recount_tallies", str(project.pk), verbosity=0)

    assert kept(project) == counted(project) != right
    assert kept(project)[0] == {(label.pk, author.pk): (2, 2)}


def test_moves_count_per_member_and_day_as_the_log_says(
    make_project: MakeProject, user_in: UserIn, make_image_row: MakeImageRow
) -> None:
    project = make_project()
    ann, rev = user_in(project, "annotator"), user_in(project, "reviewer")
    images = [make_image_row(project, status="ready") for _ in range(4)]

    def move(image: Any, action: str, user: Any, role: str, reason: str = "") -> None:
        perform(WorkItem.objects.get(pk=image.pk), action, user, role, reason)

    # A claim from the queue is a start: it counts nothing.
    claimed = next_to_annotate(project, ann, "annotator")
    assert claimed is not None and not DailyWork.objects.exists()
    for image in images[:3]:
        if image.pk != claimed.pk:
            move(image, "start", ann, "annotator")
        move(image, "submit", ann, "annotator")
    move(images[0], "start_review", rev, "reviewer")
    move(images[0], "reject", rev, "reviewer", "Missed one")
    move(images[0], "start", ann, "annotator")
    move(images[0], "submit", ann, "annotator")
    move(images[0], "start_review", rev, "reviewer")
    move(images[0], "accept", rev, "reviewer")
    move(images[1], "start_review", rev, "reviewer")
    move(images[1], "release_review", rev, "reviewer")

    figures = DailyWork.objects.filter(project=project).values_list(
        "user__username", "submitted", "accepted", "rejected"
    )
    assert list(figures) == [(ann.get_username(), 4, 1, 1)]
    kept_rows = set(
        DailyWork.objects.values_list("user_id", "day", "submitted", "accepted", "rejected")
    )
    assert recount_days(project) == 1
    rebuilt = set(
        DailyWork.objects.values_list("user_id", "day", "submitted", "accepted", "rejected")
    )
    assert kept_rows == rebuilt


def test_recount_rebuilds_a_project_from_scratch(
    make_project: MakeProject, user_in: UserIn, make_image_row: MakeImageRow
) -> None:
    project = make_project(review_required=False)
    ann = user_in(project, "annotator")
    label = LabelClass.objects.create(project=project, name="cat")
    image = make_image_row(project, width=WIDTH, height=HEIGHT, status="ready")
    create_annotation(image, author=ann, label_class=label.pk, rle=mask_rle(random.Random(1)))
    perform(WorkItem.objects.get(pk=image.pk), "start", ann, "annotator")
    perform(WorkItem.objects.get(pk=image.pk), "submit", ann, "annotator")
    before = kept(project), list(DailyWork.objects.values_list("submitted", "accepted"))

    assert recount(project) == {"annotations": 1, "tallies": 1, "days": 1}

    assert (kept(project), list(DailyWork.objects.values_list("submitted", "accepted"))) == before
    assert before[1] == [(1, 1)]  # review off: the submit accepted at once
