"""The built-in rules: what each finds on small made-up images, and how their parameters
are refused."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qualityrules.builtin import InvalidParams, normalise
from qualityrules.engine import Rule, run_rules
from qualityrules.model import ImageData
from qualityrules.ruleset import rules_from_spec
from tests.qualityrules.vectors import BUILTIN_SPEC, annotation, random_images


def rect(y0: int, y1: int, x0: int, x1: int, size: tuple[int, int] = (20, 20)) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def image(*annotations: dict[str, Any]) -> ImageData:
    return ImageData.from_dict({"width": 20, "height": 20, "annotations": list(annotations)})


def check(name: str, params: dict[str, Any], img: ImageData) -> list[dict[str, Any]]:
    return run_rules(img, [Rule(name, builtin=name, params=normalise(name, params))])


def test_min_area_names_the_small_instance_and_its_area() -> None:
    img = image(annotation(1, "car", rect(0, 2, 0, 2)), annotation(2, "car", rect(5, 15, 5, 15)))

    found = check("min_area", {"areas": {"car": 50}}, img)

    assert found == [
        {
            "rule": "min_area",
            "severity": "error",
            "message": "car #1 covers 4 px; a car needs at least 50 px",
            "annotation_ids": [1],
        }
    ]


def test_a_missing_required_class_concerns_the_whole_image() -> None:
    found = check("required_classes", {"classes": ["road"], "severity": "warning"}, image())

    assert [(p["severity"], p["annotation_ids"]) for p in found] == [("warning", [])]
    assert "no road" in found[0]["message"]


def test_forbidden_and_too_many_instances_list_every_instance() -> None:
    img = image(*(annotation(i, "sun", rect(i, i + 2, 0, 2)) for i in (1, 5, 9)))

    assert check("forbidden_classes", {"classes": ["sun"]}, img)[0]["annotation_ids"] == [1, 5, 9]
    assert check("max_instances", {"max": {"sun": 2}}, img)[0]["annotation_ids"] == [1, 5, 9]
    assert check("max_instances", {"max": {"sun": 3}}, img) == []


def test_one_part_sees_two_pieces_and_ignores_specks_below_the_least_area() -> None:
    two = rect(0, 5, 0, 5) | rect(10, 15, 10, 15) | rect(19, 20, 0, 1)
    img = image(annotation(7, "car", two))

    assert "3 separate parts" in check("one_part", {}, img)[0]["message"]
    assert "2 separate parts" in check("one_part", {"min_part_area": 2}, img)[0]["message"]


def test_no_holes_finds_a_pinhole_only_in_the_chosen_classes() -> None:
    holed = rect(2, 10, 2, 10)
    holed[5, 5] = False
    img = image(annotation(1, "car", holed), annotation(2, "road", holed))

    found = check("no_holes", {"classes": ["car"]}, img)

    assert [p["annotation_ids"] for p in found] == [[1]]
    assert "1 hole (1 px)" in found[0]["message"]


def test_no_overlap_compares_only_one_class_and_only_above_the_iou() -> None:
    img = image(
        annotation(1, "car", rect(0, 10, 0, 10)),
        annotation(2, "car", rect(0, 10, 5, 15)),  # IoU 50/150
        annotation(3, "road", rect(0, 10, 0, 10)),  # another class: never compared
    )

    assert check("no_overlap", {"max_iou": 0.5}, img) == []
    found = check("no_overlap", {"max_iou": 0.3}, img)
    assert [p["annotation_ids"] for p in found] == [[1, 2]]
    assert "IoU 0.33" in found[0]["message"]


@pytest.mark.parametrize(
    ("name", "params", "says"),
    [
        ("min_area", {"areas": {"car": -1}}, "must not be negative"),
        ("min_area", {"areas": {}}, "at least one class"),
        ("required_classes", {"classes": "car"}, "list of class names"),
        ("one_part", {"connectivity": 6}, "4 or 8"),
        ("no_holes", {"min_hole_area": 0}, "1 or more"),
        ("no_overlap", {"max_iou": 1.5}, "from 0"),
        ("no_overlap", {"severity": "fatal"}, "severity"),
        ("nonsense", {}, "no built-in rule"),
    ],
)
def test_bad_parameters_are_refused_with_their_name(name: str, params: dict, says: str) -> None:
    with pytest.raises(InvalidParams, match=says):
        normalise(name, params)


def test_every_rule_of_the_shared_vectors_finds_something() -> None:
    # The vectors the sandbox is compared on must exercise every rule, or the comparison
    # proves nothing for the rules they miss.
    rules = rules_from_spec(BUILTIN_SPEC, custom_rules=False)
    found = [p for img in random_images(40, 7) for p in run_rules(ImageData.from_dict(img), rules)]

    assert {p["rule"] for p in found} == {r["name"] for r in BUILTIN_SPEC["rules"]}
