"""Class suggestions: features pooled for saved annotations, classes ranked by their
nearest labelled neighbours, and the suggest-class API, per role.

The images' embeddings are synthetic but stored as every embedding is (a float16 .npy
file through ImageEmbedding.store): the left half of each image has feature ``LEFT``,
the right half ``RIGHT``, so a mask's pooled feature says which half it lies on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.core.cache import cache
from django.core.management import call_command
from pytest_django.fixtures import Settings

from tests.webapp.factories_annotations import make_image, make_label_class
from webapp.annotations import rle as rle_codec
from webapp.annotations.models import Annotation
from webapp.annotations.services import create_annotation, edit_annotation
from webapp.images.models import ImageEmbedding
from webapp.projects.models import LabelClass, Project
from webapp.suggestions import feature_for_mask, rank, rank_many
from webapp.suggestions.models import AnnotationFeature, feature_bytes, feature_vector
from webapp.workflow.rules import perform

WIDTH, HEIGHT = 64, 48  # resized to 1024 x 768: grid columns 0-31 are the left half


def unit(index: int) -> np.ndarray:
    vector = np.zeros(256, dtype=np.float32)
    vector[index] = 1.0
    return vector


LEFT, RIGHT = unit(3), unit(100)


def half_embedding() -> np.ndarray:
    embedding = np.empty((256, 64, 64), dtype=np.float32)
    embedding[:, :, :32] = LEFT[:, None, None]
    embedding[:, :, 32:] = RIGHT[:, None, None]
    return embedding


def half_mask(side: str) -> dict[str, Any]:
    """An RLE of a block on the ``side`` ("left" or "right") half of the image."""
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    if side == "left":
        mask[5:40, 2:28] = True
    else:
        mask[5:40, 36:60] = True
    return rle_codec.encode(mask)


@pytest.fixture(autouse=True)
def media(settings: Settings, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.CELERY_TASK_ALWAYS_EAGER = True
    cache.clear()  # no pre-selection bar measured by another test


def encoded_image(project: Project) -> Any:
    image = make_image(project, WIDTH, HEIGHT)
    ImageEmbedding.store(image, project.model, half_embedding())
    image.refresh_from_db()
    return image


def stored_feature(annotation_id: int) -> np.ndarray:
    return feature_vector(AnnotationFeature.objects.get(annotation_id=annotation_id).vector)


# --- features of saved annotations ---


def test_a_saved_annotation_gets_the_feature_under_its_mask(
    make_project: Any, django_capture_on_commit_callbacks: Any
) -> None:
    project = make_project()
    image = encoded_image(project)
    label = make_label_class(project, "cat")
    with django_capture_on_commit_callbacks(execute=True):
        annotation = create_annotation(
            image, author=None, label_class=label.pk, rle=half_mask("right")
        )
    np.testing.assert_allclose(stored_feature(annotation.pk), RIGHT, atol=1e-3)
    assert AnnotationFeature.objects.get(annotation=annotation).model == project.model


def test_editing_the_mask_pools_the_new_one_and_a_class_change_keeps_it(
    make_project: Any, django_capture_on_commit_callbacks: Any
) -> None:
    project = make_project()
    image = encoded_image(project)
    cat, dog = make_label_class(project, "cat"), make_label_class(project, "dog")
    with django_capture_on_commit_callbacks(execute=True):
        annotation = create_annotation(
            image, author=None, label_class=cat.pk, rle=half_mask("left")
        )
    np.testing.assert_allclose(stored_feature(annotation.pk), LEFT, atol=1e-3)
    with django_capture_on_commit_callbacks(execute=True):
        edit_annotation(annotation, annotation.version, {"rle": half_mask("right")})
    np.testing.assert_allclose(stored_feature(annotation.pk), RIGHT, atol=1e-3)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        edit_annotation(annotation, annotation.version, {"label_class": dog.pk})
    assert callbacks == []  # nothing to pool again
    np.testing.assert_allclose(stored_feature(annotation.pk), RIGHT, atol=1e-3)


def test_annotations_made_before_the_image_was_encoded_are_pooled_once_it_is(
    make_project: Any, django_capture_on_commit_callbacks: Any
) -> None:
    project = make_project()
    image = make_image(project, WIDTH, HEIGHT)
    label = make_label_class(project, "cat")
    with django_capture_on_commit_callbacks(execute=True):
        annotation = create_annotation(
            image, author=None, label_class=label.pk, rle=half_mask("left")
        )
    assert not AnnotationFeature.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        ImageEmbedding.store(image, project.model, half_embedding())
    np.testing.assert_allclose(stored_feature(annotation.pk), LEFT, atol=1e-3)


def test_the_backfill_command_pools_what_lacks_a_feature(make_project: Any, capsys: Any) -> None:
    project = make_project()
    image = encoded_image(project)
    label = make_label_class(project, "cat")
    # Without committing, no task runs: as for annotations saved before this feature.
    annotation = create_annotation(image, author=None, label_class=label.pk, rle=half_mask("right"))
    assert not AnnotationFeature.objects.exists()
    call_command("pool_features", str(project.pk))
    np.testing.assert_allclose(stored_feature(annotation.pk), RIGHT, atol=1e-3)
    call_command("pool_features")
    assert "pooled 0" in capsys.readouterr().out


def test_a_feature_for_a_mask_is_none_before_the_image_is_encoded(make_project: Any) -> None:
    project = make_project()
    image = make_image(project, WIDTH, HEIGHT)
    assert feature_for_mask(image, half_mask("left")) is None
    ImageEmbedding.store(image, project.model, half_embedding())
    np.testing.assert_allclose(feature_for_mask(image, half_mask("left")), LEFT, atol=1e-3)


# --- ranking ---


def labelled(project: Project, image: Any, label: LabelClass, vector: np.ndarray) -> int:
    """An annotation of ``label`` whose stored feature is ``vector`` (normalised)."""
    annotation = create_annotation(image, author=None, label_class=label.pk, rle=half_mask("left"))
    AnnotationFeature.objects.create(
        annotation=annotation,
        project=project,
        model=project.model,
        vector=feature_bytes(vector / np.linalg.norm(vector)),
        mask_sha1="-",
    )
    return annotation.pk


def test_classes_are_ranked_as_the_nearest_neighbours_vote(make_project: Any) -> None:
    project = make_project()
    image = make_image(project, WIDTH, HEIGHT)
    cat, dog, bird = (make_label_class(project, n) for n in ("cat", "dog", "bird"))
    rng = np.random.default_rng(0)
    centres = {cat: unit(0), dog: unit(1), bird: unit(2)}
    for label, centre in centres.items():
        for _ in range(4):
            labelled(project, image, label, centre + 0.1 * rng.standard_normal(256))
    # Nearest the dog examples, then the cat ones.
    query = 0.8 * unit(1) + 0.6 * unit(0)
    suggestions = rank(project, query, min_examples=3)
    assert [s["name"] for s in suggestions][:2] == ["dog", "cat"]
    assert suggestions[0]["label_class"] == dog.pk
    assert 0.5 < suggestions[0]["confidence"] <= 1.0
    assert sum(s["confidence"] for s in suggestions) == pytest.approx(1.0, abs=1e-3)
    assert rank(project, unit(2), min_examples=3)[0]["name"] == "bird"
    many = rank_many(project, [unit(2), query], min_examples=3)
    assert [ranked[0]["name"] for ranked in many] == ["bird", "dog"]


def test_no_suggestion_until_a_class_has_enough_examples(
    make_project: Any, settings: Settings
) -> None:
    settings.SAMLABEL_SUGGESTION_MIN_EXAMPLES = 3
    project = make_project()
    image = make_image(project, WIDTH, HEIGHT)
    cat, dog = make_label_class(project, "cat"), make_label_class(project, "dog")
    assert rank(project, unit(0)) == []
    labelled(project, image, cat, unit(0))
    labelled(project, image, cat, unit(0))
    labelled(project, image, dog, unit(1))
    assert rank(project, unit(0)) == []
    labelled(project, image, dog, unit(1))
    labelled(project, image, dog, unit(1))
    # Only dog has 3 examples: it is the only class that may be suggested.
    assert [s["name"] for s in rank(project, unit(0))] == ["dog"]


def test_another_projects_examples_never_vote(make_project: Any) -> None:
    project, other = make_project(), make_project()
    image, other_image = make_image(project, WIDTH, HEIGHT), make_image(other, WIDTH, HEIGHT)
    cat, dog = make_label_class(project, "cat"), make_label_class(other, "dog")
    labelled(project, image, cat, unit(0))
    for _ in range(5):
        labelled(other, other_image, dog, unit(1))
    assert [s["name"] for s in rank(project, unit(1), min_examples=1)] == ["cat"]


def test_a_class_no_person_checked_is_no_example_until_one_does(
    make_project: Any, make_user: Any
) -> None:
    from webapp.workflow.models import WorkItem, WorkState

    project = make_project()
    image, other_image = make_image(project, WIDTH, HEIGHT), make_image(project, WIDTH, HEIGHT)
    cat, dog = make_label_class(project, "cat"), make_label_class(project, "dog")
    for _ in range(3):
        labelled(project, image, cat, unit(0))
    guessed = [labelled(project, other_image, dog, unit(1)) for _ in range(3)]
    # Given their class by "accept all with their suggested classes": the suggester's
    # own guesses, which it must neither learn from nor measure itself on.
    Annotation.objects.filter(pk__in=guessed).update(class_suggested=True)
    assert [s["name"] for s in rank(project, unit(1), min_examples=3)] == ["cat"]

    # A person gives one of them a class (the same): it counts; two more are needed.
    first = Annotation.objects.get(pk=guessed[0])
    edit_annotation(first, first.version, {"label_class": dog.pk})
    assert rank(project, unit(1), min_examples=1)[0]["name"] == "dog"
    assert [s["name"] for s in rank(project, unit(1), min_examples=3)] == ["cat"]

    # The image is accepted in review: a person checked every class on it. The move
    # clears the mark, and a later reopening does not bring it back.
    reviewer = make_user("rita")
    WorkItem.objects.filter(image=other_image).update(state=WorkState.IN_REVIEW, reviewer=reviewer)
    perform(WorkItem.objects.get(image=other_image), "accept", reviewer, "reviewer")
    assert not Annotation.objects.filter(pk__in=guessed, class_suggested=True).exists()
    assert rank(project, unit(1), min_examples=3)[0]["name"] == "dog"
    perform(WorkItem.objects.get(image=other_image), "reopen", project.created_by, "owner")
    assert rank(project, unit(1), min_examples=3)[0]["name"] == "dog"


def test_a_submit_with_review_off_accepts_and_checks_the_classes(
    make_project: Any, make_user: Any
) -> None:
    from webapp.workflow.models import WorkItem, WorkState

    project = make_project(review_required=False)
    image, other_image = make_image(project, WIDTH, HEIGHT), make_image(project, WIDTH, HEIGHT)
    dog = make_label_class(project, "dog")
    guessed = [labelled(project, image, dog, unit(1)) for _ in range(2)]
    elsewhere = labelled(project, other_image, dog, unit(1))
    Annotation.objects.filter(pk__in=[*guessed, elsewhere]).update(class_suggested=True)
    annotator = make_user("ann")
    WorkItem.objects.filter(image=image).update(state=WorkState.ANNOTATING, annotator=annotator)
    item = perform(WorkItem.objects.get(image=image), "submit", annotator, "annotator")
    assert item.state == WorkState.ACCEPTED
    still = Annotation.objects.filter(class_suggested=True).values_list("pk", flat=True)
    assert list(still) == [elsewhere]  # only the accepted image's classes were checked


# --- the API ---


def suggest_url(project: Project, image: Any) -> str:
    return f"/api/projects/{project.pk}/images/{image.pk}/suggest-class/"


@pytest.fixture
def labelled_project(make_project: Any, settings: Settings) -> tuple[Project, Any]:
    """An encoded image in a project whose 'left' class has 3 examples on the left half
    and 'right' 3 on the right half."""
    settings.SAMLABEL_SUGGESTION_MIN_EXAMPLES = 3
    project = make_project()
    image = encoded_image(project)
    for side in ("left", "right"):
        label = make_label_class(project, side)
        for _ in range(3):
            annotation = create_annotation(
                image, author=None, label_class=label.pk, rle=half_mask(side)
            )
            call_command("pool_features", str(project.pk))
            assert AnnotationFeature.objects.filter(annotation=annotation).exists()
    return project, image


@pytest.mark.parametrize("role", ["owner", "manager", "reviewer", "annotator"])
def test_members_who_annotate_get_the_neighbours_class(
    labelled_project: tuple[Project, Any], user_in: Any, api_client: Any, role: str
) -> None:
    project, image = labelled_project
    client = api_client(user_in(project, role))
    answer = client.post(suggest_url(project, image), {"rle": half_mask("right")}, format="json")
    assert answer.status_code == 200, answer.content
    suggestions = answer.json()["suggestions"]
    assert suggestions[0]["name"] == "right"
    assert suggestions[0]["confidence"] == pytest.approx(1.0)


def test_a_viewer_is_refused_and_an_outsider_learns_nothing(
    labelled_project: tuple[Project, Any], user_in: Any, api_client: Any
) -> None:
    project, image = labelled_project
    body = {"rle": half_mask("right")}
    viewer = api_client(user_in(project, "viewer"))
    assert viewer.post(suggest_url(project, image), body, format="json").status_code == 403
    outsider = api_client(user_in(project, "outsider"))
    assert outsider.post(suggest_url(project, image), body, format="json").status_code == 404
    assert api_client(None).post(suggest_url(project, image), body, format="json").status_code in (
        401,
        403,
    )


def test_an_image_of_another_project_is_not_found(
    labelled_project: tuple[Project, Any], make_project: Any, user_in: Any, api_client: Any
) -> None:
    project, _ = labelled_project
    elsewhere = encoded_image(make_project())
    client = api_client(user_in(project, "owner"))
    answer = client.post(suggest_url(project, elsewhere), {"rle": half_mask("left")}, format="json")
    assert answer.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"rle": {"size": [HEIGHT, WIDTH], "counts": "not an rle"}},
        {"rle": {"size": [10, 10], "counts": ""}},
        {"rle": rle_codec.encode(np.zeros((HEIGHT, WIDTH), dtype=bool))},
        {"rle": "left"},
        {},
        {"rle": half_mask("left"), "annotation": 1},
    ],
)
def test_a_bad_mask_is_answered_400(
    labelled_project: tuple[Project, Any], user_in: Any, api_client: Any, body: dict[str, Any]
) -> None:
    project, image = labelled_project
    client = api_client(user_in(project, "annotator"))
    answer = client.post(suggest_url(project, image), body, format="json")
    assert answer.status_code == 400, answer.content


def test_an_annotation_is_suggested_a_class_without_its_own_vote(
    make_project: Any, user_in: Any, api_client: Any, settings: Settings
) -> None:
    settings.SAMLABEL_SUGGESTION_MIN_EXAMPLES = 1
    project = make_project()
    image = encoded_image(project)
    left = make_label_class(project, "left")
    # Mislabelled on purpose: one 'left' annotation on the right half, among three
    # 'right' ones; the suggestion for it must come from the others.
    right = make_label_class(project, "right")
    odd = create_annotation(image, author=None, label_class=left.pk, rle=half_mask("right"))
    for _ in range(3):
        create_annotation(image, author=None, label_class=right.pk, rle=half_mask("right"))
    call_command("pool_features")
    client = api_client(user_in(project, "annotator"))
    answer = client.post(suggest_url(project, image), {"annotation": odd.pk}, format="json")
    assert answer.status_code == 200
    assert [s["name"] for s in answer.json()["suggestions"]] == ["right"]


def test_the_api_answers_empty_with_too_few_examples_and_409_before_encoding(
    make_project: Any, user_in: Any, api_client: Any
) -> None:
    project = make_project()
    image = encoded_image(project)
    client = api_client(user_in(project, "annotator"))
    answer = client.post(suggest_url(project, image), {"rle": half_mask("left")}, format="json")
    assert answer.status_code == 200
    assert answer.json() == {
        "suggestions": [],
        "preselect_at": 0.5,
        "calibration": {"evaluated": 0, "right_when_preselected": None, "familiar_from": None},
    }
    pending = make_image(project, WIDTH, HEIGHT)
    answer = client.post(suggest_url(project, pending), {"rle": half_mask("left")}, format="json")
    assert answer.status_code == 409


def test_preselection_follows_how_often_the_projects_own_labels_are_voted_right(
    make_project: Any, user_in: Any, api_client: Any, settings: Settings
) -> None:
    settings.SAMLABEL_SUGGESTION_MIN_EXAMPLES = 3
    project = make_project()
    image = encoded_image(project)
    cat, dog = make_label_class(project, "cat"), make_label_class(project, "dog")
    rng = np.random.default_rng(5)
    # Twelve masks look like unit(3) (the left half's feature), twelve like unit(100),
    # but their classes were given at random: the features cannot tell cat from dog.
    looks = [LEFT] * 12 + [RIGHT] * 12
    given = rng.permutation([cat] * 12 + [dog] * 12)
    ids = [
        labelled(project, image, label, look + 0.05 * rng.standard_normal(256))
        for look, label in zip(looks, given, strict=True)
    ]
    client = api_client(user_in(project, "annotator"))
    url = suggest_url(project, image)

    answer = client.post(url, {"rle": half_mask("left")}, format="json").json()
    assert answer["preselect_at"] is None
    assert answer["calibration"]["evaluated"] == 24
    assert answer["calibration"]["right_when_preselected"] is None
    assert answer["suggestions"] and not any(s["preselect"] for s in answer["suggestions"])

    # Labelled consistently (the left look is a cat), the same masks are voted right.
    for pk, look in zip(ids, looks, strict=True):
        label = cat if look is LEFT else dog
        Annotation.objects.filter(pk=pk).update(label_class=label)
    answer = client.post(url, {"rle": half_mask("left")}, format="json").json()
    assert answer["preselect_at"] == 0.5
    assert answer["calibration"]["evaluated"] == 24
    assert answer["calibration"]["right_when_preselected"] == 1.0
    assert 0.0 < answer["calibration"]["familiar_from"] < 1.0
    assert [(s["name"], s["preselect"]) for s in answer["suggestions"]] == [("cat", True)]


def test_a_large_projects_bar_serves_on_while_its_examples_barely_change(
    make_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webapp.suggestions import neighbours
    from webapp.suggestions.voting import Examples

    project = make_project()
    measured: list[int] = []
    real = neighbours.preselection_bar

    def counting(examples: Examples, target: float, **options: Any) -> Any:
        measured.append(len(examples.classes))
        return real(examples, target, **options)

    monkeypatch.setattr(neighbours, "preselection_bar", counting)
    monkeypatch.setattr(neighbours, "REUSE_FROM", 40)
    clock = [1000.0]
    monkeypatch.setattr(neighbours.time, "time", lambda: clock[0])
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 256)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    def first(n: int) -> Examples:
        return Examples(vectors[:n], np.arange(n) % 2, np.arange(n) + 1)

    def bar(examples: Examples) -> Any:
        return neighbours.project_bar(project, examples, k=10, min_examples=3)

    bar(first(30))
    bar(first(30))  # the same examples: the cached bar
    bar(first(31))  # 30 is below REUSE_FROM: measured again
    assert measured == [30, 31]
    bar(first(40))
    bar(first(42))  # 5 % more of 40: serves on
    clock[0] += neighbours.REUSE_SECONDS + 1
    bar(first(42))  # ... until it is too old
    bar(first(50))  # 25 % more: measured at once
    assert measured == [30, 31, 40, 42, 50]


def test_any_member_reads_how_suggestions_are_preselected_and_an_outsider_nothing(
    make_project: Any, user_in: Any, api_client: Any, settings: Settings
) -> None:
    settings.SAMLABEL_SUGGESTION_MIN_EXAMPLES = 3
    settings.SAMLABEL_SUGGESTION_PRESELECT_PERCENT = 90
    project = make_project()
    image = make_image(project, WIDTH, HEIGHT)
    url = f"/api/projects/{project.pk}/suggestion-calibration/"
    viewer = api_client(user_in(project, "viewer"))
    assert viewer.get(url).json() == {
        "preselect_at": 0.5,
        "calibration": {"evaluated": 0, "right_when_preselected": None, "familiar_from": None},
        "target_right": 0.9,
    }
    # Classes given at random to two looks: no confidence is right 90 % of the time.
    cat, dog = make_label_class(project, "cat"), make_label_class(project, "dog")
    rng = np.random.default_rng(5)
    for look, label in zip([LEFT, RIGHT] * 12, rng.permutation([cat, dog] * 12), strict=True):
        labelled(project, image, label, look + 0.05 * rng.standard_normal(256))
    answer = viewer.get(url)
    assert answer.status_code == 200
    assert answer.json()["preselect_at"] is None
    assert answer.json()["calibration"]["evaluated"] == 24
    assert api_client(user_in(project, "outsider")).get(url).status_code == 404
    assert api_client(None).get(url).status_code in (401, 403)
    assert viewer.post(url, {}, format="json").status_code in (403, 405)
