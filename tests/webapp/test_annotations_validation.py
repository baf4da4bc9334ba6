"""Malformed annotations: each is a 400 whose message says what is wrong, and nothing is
stored or changed."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from pytest_django.fixtures import Settings

from tests.webapp.factories_annotations import make_image, make_label_class
from webapp.annotations import rle
from webapp.annotations.models import Annotation

WIDTH, HEIGHT = 64, 48


@pytest.fixture(autouse=True)
def fast_settings(settings: Settings, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def scene(make_user: Any, make_project: Any) -> dict[str, Any]:
    owner = make_user("owner")
    project = make_project(owner=owner)
    other_project = make_project(owner=owner)
    return {
        "owner": owner,
        "project": project,
        "image": make_image(project, WIDTH, HEIGHT),
        "label": make_label_class(project, "cat"),
        "foreign_label": make_label_class(other_project, "dog"),
    }


def good_rle() -> dict[str, Any]:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[10:20, 5:30] = True
    return rle.encode(mask)


SQUARE = [10, 10, 20, 10, 20, 20, 10, 20]


def messages(response: Any) -> str:
    return str(response.json()).lower()


def malformed_cases(label: int, foreign_label: int) -> dict[str, tuple[dict[str, Any], str]]:
    """name -> (request body, a phrase its error message must contain), for the ids of a
    label class of the image's project and of one of another project."""
    valid = good_rle()
    return {
        "rle of another size": (
            {"label_class": label, "rle": {"size": [WIDTH, HEIGHT], "counts": valid["counts"]}},
            "is not the image's size [48, 64]",
        ),
        "rle counts with a character outside the alphabet": (
            {"label_class": label, "rle": {"size": [HEIGHT, WIDTH], "counts": "0a~~"}},
            "alphabet",
        ),
        "rle counts ending inside a run": (
            {"label_class": label, "rle": {"size": [HEIGHT, WIDTH], "counts": "Pa"}},
            "middle of a run",
        ),
        "rle counts summing to too few pixels": (
            {"label_class": label, "rle": {"size": [HEIGHT, WIDTH], "counts": [100, 200]}},
            "cover 300 pixels",
        ),
        "rle string counts summing to too many pixels": (
            {"label_class": label, "rle": {**valid, "counts": valid["counts"] + "1"}},
            "pixels but size",
        ),
        "rle with a negative run": (
            {"label_class": label, "rle": {"size": [HEIGHT, WIDTH], "counts": [3100, -4, 4]}},
            "negative",
        ),
        "rle that is not an object": (
            {"label_class": label, "rle": "abc"},
            "rle must be an object",
        ),
        "polygon with an infinite coordinate": (
            {"label_class": label, "polygons": [[10, 10, 20, 1e999, 20, 20]]},
            "finite",
        ),
        "polygon with 2 points": (
            {"label_class": label, "polygons": [[10, 10, 20, 20]]},
            "at least 3",
        ),
        "polygon with an odd number of coordinates": (
            {"label_class": label, "polygons": [[10, 10, 20, 20, 30]]},
            "odd number",
        ),
        "polygons that are not a list of rings": (
            {"label_class": label, "polygons": [1, 2, 3, 4, 5, 6]},
            "flat list",
        ),
        "both an rle and polygons": (
            {"label_class": label, "rle": valid, "polygons": [SQUARE]},
            "exactly one",
        ),
        "no mask at all": ({"label_class": label}, "exactly one"),
        "no label class": ({"rle": valid}, "label_class"),
        "an unknown label class id": (
            {"label_class": 987654, "rle": valid},
            "no label class with id 987654",
        ),
        "a label class of another project": (
            {"label_class": foreign_label, "rle": valid},
            f"no label class with id {foreign_label}",
        ),
        "an empty mask as rle": (
            {"label_class": label, "rle": rle.encode(np.zeros((HEIGHT, WIDTH), bool))},
            "empty",
        ),
        "an empty mask as a polygon outside the image": (
            {"label_class": label, "polygons": [[100, 100, 120, 100, 120, 120]]},
            "empty",
        ),
        "a point outside the image": (
            {"label_class": label, "rle": valid, "prompts": {"points": [[65, 5]], "labels": [1]}},
            "point [65, 5] is outside the image (64x48",
        ),
        "a point with a negative coordinate": (
            {"label_class": label, "rle": valid, "prompts": {"points": [[5, -1]], "labels": [1]}},
            "outside the image",
        ),
        "a point that is not two numbers": (
            {"label_class": label, "rle": valid, "prompts": {"points": [[5]], "labels": [1]}},
            "[x, y] numbers",
        ),
        "labels that are not 0 or 1": (
            {"label_class": label, "rle": valid, "prompts": {"points": [[5, 5]], "labels": [2]}},
            "1 (object) or 0 (background)",
        ),
        "fewer labels than points": (
            {
                "label_class": label,
                "rle": valid,
                "prompts": {"points": [[5, 5], [6, 6]], "labels": [1]},
            },
            "2 points need 2 labels, not 1",
        ),
        "an inverted box": (
            {"label_class": label, "rle": valid, "prompts": {"box": [30, 5, 10, 20]}},
            "x0 < x1",
        ),
        "a box beyond the image": (
            {"label_class": label, "rle": valid, "prompts": {"box": [0, 0, 65, 20]}},
            "outside the image",
        ),
        "a box with an infinite corner": (
            {"label_class": label, "rle": valid, "prompts": {"box": [0, 0, 1e999, 20]}},
            "[x0, y0, x1, y1] numbers",
        ),
        "unknown prompt keys": (
            {"label_class": label, "rle": valid, "prompts": {"clicks": []}},
            "unknown keys: clicks",
        ),
    }


CASE_NAMES = list(malformed_cases(0, 0))
# An edit may leave out any field, so these two are not errors there.
EDIT_CASE_NAMES = [n for n in CASE_NAMES if n not in ("no label class", "no mask at all")]


def cases_for(scene: dict[str, Any]) -> dict[str, tuple[dict[str, Any], str]]:
    return malformed_cases(scene["label"].pk, scene["foreign_label"].pk)


def as_json(data: dict[str, Any]) -> str:
    """JSON of ``data`` with infinities written as 1e999, which JSON allows and parsers
    read as infinity (unlike NaN and Infinity, which are not JSON)."""
    return json.dumps(data).replace("Infinity", "1e999")


@pytest.mark.parametrize("case", CASE_NAMES)
def test_a_malformed_annotation_is_refused_with_a_reason_and_nothing_is_stored(
    scene: dict[str, Any], api_client: Any, case: str
) -> None:
    data, phrase = cases_for(scene)[case]
    url = f"/api/projects/{scene['project'].pk}/images/{scene['image'].pk}/annotations/"

    response = api_client(scene["owner"]).post(url, as_json(data), content_type="application/json")

    assert response.status_code == 400, response.content
    assert phrase.lower() in messages(response)
    assert not Annotation.objects.exists()


def test_a_polygon_with_nan_is_refused_and_nothing_is_stored(
    scene: dict[str, Any], api_client: Any
) -> None:
    url = f"/api/projects/{scene['project'].pk}/images/{scene['image'].pk}/annotations/"
    # JSON has no NaN; Python writes it as a bare NaN token, which strict parsers refuse.
    label = scene["label"].pk
    payload = f'{{"label_class": {label}, "polygons": [[10, 10, 20, NaN, 20, 20]]}}'

    response = api_client(scene["owner"]).post(url, payload, content_type="application/json")

    assert response.status_code == 400
    assert "nan" in messages(response)
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("case", EDIT_CASE_NAMES)
def test_a_malformed_edit_is_refused_and_the_annotation_is_unchanged(
    scene: dict[str, Any], api_client: Any, case: str
) -> None:
    data, phrase = cases_for(scene)[case]
    annotation = Annotation.objects.create(
        image=scene["image"],
        label_class=scene["label"],
        rle=good_rle(),
        bbox=[5, 10, 25, 10],
        area=250,
        prompts={"points": [], "labels": [], "box": None},
    )
    url = f"/api/projects/{scene['project'].pk}/annotations/{annotation.pk}/"

    response = api_client(scene["owner"]).patch(
        url, as_json(data), content_type="application/json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 400, response.content
    assert phrase.lower() in messages(response)
    stored = Annotation.objects.get(pk=annotation.pk)
    assert stored.version == 1
    assert stored.rle == good_rle()
    assert stored.label_class == scene["label"]
    assert stored.prompts == {"points": [], "labels": [], "box": None}
