"""Hostile JSON bodies and query strings that used to crash the API (500) and now get a
400 that says what is wrong: documents nested thousands deep, numbers too large for any
float, and ids too large for any row."""

from __future__ import annotations

from typing import Any

import pytest

from tests.webapp.factories_annotations import make_image, make_label_class
from webapp.annotations.models import Annotation
from webapp.core.parsers import MAX_JSON_DEPTH, json_depth

pytestmark = pytest.mark.django_db

# 1 followed by 400 zeros: a valid JSON number that Python reads as an int no float holds.
HUGE = "1" + "0" * 400
TWENTY_DIGITS = "9" * 20
SQUARE = "[10, 10, 20, 10, 20, 20, 10, 20]"


@pytest.fixture
def scene(make_project: Any, user_in: Any, settings: Any, tmp_path: Any) -> dict[str, Any]:
    settings.MEDIA_ROOT = tmp_path
    project = make_project()
    owner = user_in(project, "owner")
    image = make_image(project, 64, 48)
    label = make_label_class(project)
    return {"project": project, "owner": owner, "image": image, "label": label}


def lenient_client(api_client: Any, user: Any) -> Any:
    """A client that returns a 500 as a response instead of raising the view's error, so
    a test sees the status a user would."""
    client = api_client(user)
    client.raise_request_exception = False
    return client


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    assert json_depth("3") == 0
    assert json_depth('{"a": [1, {"b": []}]}') == 4
    assert json_depth('{"name": "[[[[{{{{"}') == 1
    assert json_depth(r'["a \" [[[", [2]]') == 2
    assert json_depth(nested(5000)) == 5000


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 3000, 100_000])
def test_an_annotation_nested_too_deep_is_refused_with_400(
    scene: dict[str, Any], api_client: Any, depth: int
) -> None:
    url = f"/api/projects/{scene['project'].pk}/images/{scene['image'].pk}/annotations/"
    body = f'{{"label_class": {scene["label"].pk}, "polygons": {nested(depth)}}}'

    response = lenient_client(api_client, scene["owner"]).post(
        url, body, content_type="application/json"
    )

    assert response.status_code == 400
    assert f"at most {MAX_JSON_DEPTH}" in response.json()["detail"]
    assert not Annotation.objects.exists()


def test_a_project_nested_thousands_deep_is_refused_with_400(
    make_user: Any, api_client: Any
) -> None:
    body = '{"name": ' + nested(3000) + "}"

    response = lenient_client(api_client, make_user()).post(
        "/api/projects/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert "levels deep" in response.json()["detail"]


def test_a_body_within_the_depth_bound_is_parsed_as_before(
    scene: dict[str, Any], api_client: Any
) -> None:
    url = f"/api/projects/{scene['project'].pk}/images/{scene['image'].pk}/annotations/"
    body = f'{{"label_class": {scene["label"].pk}, "polygons": [{SQUARE}]}}'

    response = api_client(scene["owner"]).post(url, body, content_type="application/json")

    assert response.status_code == 201
    assert Annotation.objects.get().area > 0


def huge_cases(label: int) -> dict[str, tuple[str, str]]:
    """name -> (JSON body with a 401-digit number somewhere, the field the 400 names)."""
    mask = f'"polygons": [{SQUARE}]'
    return {
        "a polygon coordinate": (
            f'{{"label_class": {label}, "polygons": [[10, 10, 20, {HUGE}, 20, 20]]}}',
            "polygons",
        ),
        "a prompt point": (
            f'{{"label_class": {label}, {mask}, '
            f'"prompts": {{"points": [[{HUGE}, 1]], "labels": [1]}}}}',
            "prompts",
        ),
        "a prompt box corner": (
            f'{{"label_class": {label}, {mask}, "prompts": {{"box": [0, 0, {HUGE}, 1]}}}}',
            "prompts",
        ),
        "an RLE count": (
            f'{{"label_class": {label}, "rle": {{"size": [48, 64], "counts": [{HUGE}, 1]}}}}',
            "rle",
        ),
        "an RLE size": (
            f'{{"label_class": {label}, "rle": {{"size": [{HUGE}, 64], "counts": [1]}}}}',
            "rle",
        ),
        "the label class": (f'{{"label_class": {HUGE}, {mask}}}', "label_class"),
        "a 20-digit label class": (f'{{"label_class": {TWENTY_DIGITS}, {mask}}}', "label_class"),
    }


HUGE_CASES = list(huge_cases(0))


@pytest.mark.parametrize("case", HUGE_CASES)
def test_a_number_too_large_for_any_float_in_a_new_annotation_is_refused_naming_its_field(
    scene: dict[str, Any], api_client: Any, case: str
) -> None:
    body, field = huge_cases(scene["label"].pk)[case]
    url = f"/api/projects/{scene['project'].pk}/images/{scene['image'].pk}/annotations/"

    response = lenient_client(api_client, scene["owner"]).post(
        url, body, content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("case", HUGE_CASES)
def test_a_number_too_large_for_any_float_in_an_edit_is_refused_and_changes_nothing(
    scene: dict[str, Any], api_client: Any, case: str
) -> None:
    client = lenient_client(api_client, scene["owner"])
    project, image, label = scene["project"], scene["image"], scene["label"]
    created = client.post(
        f"/api/projects/{project.pk}/images/{image.pk}/annotations/",
        f'{{"label_class": {label.pk}, "polygons": [{SQUARE}]}}',
        content_type="application/json",
    ).json()
    body, field = huge_cases(label.pk)[case]

    response = client.patch(
        f"/api/projects/{project.pk}/annotations/{created['id']}/",
        body,
        content_type="application/json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 400, response.content
    assert field in response.json()
    stored = Annotation.objects.get()
    assert (stored.version, stored.rle) == (1, created["rle"])


@pytest.mark.parametrize(
    ("header", "body"),
    [('"99999999999"', "{}"), ('"4294967296"', "{}"), (None, f'{{"version": {HUGE}}}')],
)
def test_a_version_no_annotation_can_reach_is_refused(
    scene: dict[str, Any], api_client: Any, header: str | None, body: str
) -> None:
    annotation = Annotation.objects.create(
        image=scene["image"], label_class=scene["label"], rle={}, bbox=[], area=1
    )
    url = f"/api/projects/{scene['project'].pk}/annotations/{annotation.pk}/"
    headers = {} if header is None else {"HTTP_IF_MATCH": header}

    response = lenient_client(api_client, scene["owner"]).delete(
        url, body, content_type="application/json", **headers
    )

    assert response.status_code == 400, response.content
    assert Annotation.objects.filter(pk=annotation.pk).exists()


@pytest.mark.parametrize("parameter", ["image", "label_class"])
@pytest.mark.parametrize("value", [TWENTY_DIGITS, "9223372036854775808", "²", "0", "-3", "1.5"])
def test_an_annotation_filter_that_is_no_row_id_is_refused_naming_it(
    scene: dict[str, Any], api_client: Any, parameter: str, value: str
) -> None:
    url = f"/api/projects/{scene['project'].pk}/annotations/"

    response = lenient_client(api_client, scene["owner"]).get(url, {parameter: value})

    assert response.status_code == 400
    assert parameter in response.json()


def test_an_annotation_filter_by_the_largest_row_id_finds_nothing(
    scene: dict[str, Any], api_client: Any
) -> None:
    url = f"/api/projects/{scene['project'].pk}/annotations/"

    response = api_client(scene["owner"]).get(url, {"image": str(2**63 - 1)})

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize("charset", ["bz2_codec", "zlib", "rot13", "base64"])
def test_a_charset_that_decodes_no_text_is_refused_with_400_by_the_server(
    scene: dict[str, Any], charset: str
) -> None:
    from django.test import RequestFactory

    from webapp.wsgi import application

    environ = RequestFactory()._base_environ(
        PATH_INFO="/api/projects/",
        QUERY_STRING="image=1",
        REQUEST_METHOD="GET",
        CONTENT_TYPE=f"text/plain; charset={charset}",
    )
    answers: list[str] = []

    body = b"".join(application(environ, lambda status, headers: answers.append(status)))

    assert answers == ["400 Bad Request"]
    assert charset.encode() in body


def test_a_request_in_a_text_charset_still_reaches_the_application(scene: dict[str, Any]) -> None:
    from django.test import RequestFactory

    from webapp.wsgi import application

    environ = RequestFactory()._base_environ(
        PATH_INFO="/healthz", REQUEST_METHOD="GET", CONTENT_TYPE="text/plain; charset=latin-1"
    )
    answers: list[str] = []

    b"".join(application(environ, lambda status, headers: answers.append(status)))

    assert answers == ["200 OK"]


def test_an_image_name_filter_with_a_nul_character_is_refused_naming_it(
    scene: dict[str, Any], api_client: Any
) -> None:
    url = f"/api/projects/{scene['project'].pk}/images/"

    response = lenient_client(api_client, scene["owner"]).get(url, {"name": "a\x00b"})

    # PostgreSQL refused the NUL in the query itself: a 500 there.
    assert response.status_code == 400
    assert "name" in response.json()
