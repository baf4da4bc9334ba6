"""The built-in rules, each a function ``(image, params) -> list[Problem]`` with a function
that checks and normalises its parameters.

==================  =====================================================================
rule                parameters (``severity``: "error" or "warning", default "error")
==================  =====================================================================
min_area            ``areas``: {class: least area in pixels}
required_classes    ``classes``: [class, ...], each present at least once
forbidden_classes   ``classes``: [class, ...], never present
max_instances       ``max``: {class: most instances}
one_part            ``classes``: [class, ...] (empty: every class), ``connectivity`` 8 or 4,
                    ``min_part_area``: parts smaller than this are ignored (default 0)
no_holes            ``classes``: [class, ...] (empty: every class), ``min_hole_area``
                    (default 1); the mask is 8-connected, holes 4-connected
no_overlap          ``max_iou``: most IoU between two masks of one class (default 0.0:
                    none may overlap), ``classes``: [class, ...] (empty: every class)
==================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qualityrules import rle
from qualityrules.model import ImageData, Problem

Params = dict[str, Any]


class InvalidParams(ValueError):
    """Parameters a built-in rule cannot run with; the message names the parameter."""


@dataclass(frozen=True)
class Builtin:
    name: str
    title: str  # for people: "Minimum area per class"
    check: Callable[[ImageData, Params], list[Problem]]
    normalise: Callable[[Params], Params]


def _severity(params: Params) -> str:
    severity = params.get("severity", "error")
    if severity not in ("error", "warning"):
        raise InvalidParams(f'severity must be "error" or "warning", not {severity!r}')
    return str(severity)


def _class_list(params: Params, key: str, *, required: bool) -> list[str]:
    value = params.get(key, [])
    if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
        raise InvalidParams(f"{key} must be a list of class names")
    if required and not value:
        raise InvalidParams(f"{key} must name at least one class")
    return list(dict.fromkeys(value))


def _class_numbers(params: Params, key: str, *, whole: bool) -> dict[str, float]:
    value = params.get(key)
    if not isinstance(value, dict) or not value:
        raise InvalidParams(f"{key} must map at least one class name to a number")
    out: dict[str, float] = {}
    for name, number in value.items():
        ok = isinstance(number, int) if whole else isinstance(number, int | float)
        if not isinstance(name, str) or not name or not ok or isinstance(number, bool):
            raise InvalidParams(f"{key}: {name!r} must map to a whole number")
        if number < 0:
            raise InvalidParams(f"{key}: {name!r} must not be negative")
        out[name] = number
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# min_area ---------------------------------------------------------------------------


def _min_area_params(params: Params) -> Params:
    return {"areas": _class_numbers(params, "areas", whole=True), "severity": _severity(params)}


def min_area(image: ImageData, params: Params) -> list[Problem]:
    areas = params["areas"]
    return [
        Problem(
            params["severity"],
            f"{a.label} #{a.id} covers {a.area} px; a {a.label} needs at least "
            f"{int(areas[a.label])} px",
            (a.id,),
        )
        for a in image.annotations
        if a.label in areas and a.area < areas[a.label]
    ]


# required_classes / forbidden_classes -------------------------------------------------


def _classes_params(params: Params) -> Params:
    return {
        "classes": _class_list(params, "classes", required=True),
        "severity": _severity(params),
    }


def required_classes(image: ImageData, params: Params) -> list[Problem]:
    present = {a.label for a in image.annotations}
    return [
        Problem(params["severity"], f"the image has no {name}; every image needs one")
        for name in params["classes"]
        if name not in present
    ]


def forbidden_classes(image: ImageData, params: Params) -> list[Problem]:
    problems = []
    for name in params["classes"]:
        found = image.of_label(name)
        if found:
            problems.append(
                Problem(
                    params["severity"],
                    f"{_plural(len(found), name)} on this image; {name} is not allowed",
                    tuple(a.id for a in found),
                )
            )
    return problems


# max_instances ------------------------------------------------------------------------


def _max_instances_params(params: Params) -> Params:
    return {"max": _class_numbers(params, "max", whole=True), "severity": _severity(params)}


def max_instances(image: ImageData, params: Params) -> list[Problem]:
    problems = []
    for name, most in params["max"].items():
        found = image.of_label(name)
        if len(found) > most:
            problems.append(
                Problem(
                    params["severity"],
                    f"{_plural(len(found), name)} on this image; at most {int(most)} allowed",
                    tuple(a.id for a in found),
                )
            )
    return problems


# one_part -----------------------------------------------------------------------------


def _one_part_params(params: Params) -> Params:
    connectivity = params.get("connectivity", 8)
    if connectivity not in (4, 8) or isinstance(connectivity, bool):
        raise InvalidParams(f"connectivity must be 4 or 8, not {connectivity!r}")
    least = params.get("min_part_area", 0)
    if not isinstance(least, int) or isinstance(least, bool) or least < 0:
        raise InvalidParams("min_part_area must be a whole number of pixels, 0 or more")
    return {
        "classes": _class_list(params, "classes", required=False),
        "connectivity": connectivity,
        "min_part_area": least,
        "severity": _severity(params),
    }


def _chosen(image: ImageData, classes: list[str]) -> list[Any]:
    return [a for a in image.annotations if not classes or a.label in classes]


def one_part(image: ImageData, params: Params) -> list[Problem]:
    problems = []
    for a in _chosen(image, params["classes"]):
        areas = rle.component_areas(a.rle, params["connectivity"])
        parts = [n for n in areas if n >= params["min_part_area"]]
        if len(parts) > 1:
            problems.append(
                Problem(
                    params["severity"],
                    f"{a.label} #{a.id} is in {len(parts)} separate parts "
                    f"({', '.join(str(n) for n in sorted(parts, reverse=True))} px); "
                    "it must be one connected mask",
                    (a.id,),
                )
            )
    return problems


# no_holes -----------------------------------------------------------------------------


def _no_holes_params(params: Params) -> Params:
    least = params.get("min_hole_area", 1)
    if not isinstance(least, int) or isinstance(least, bool) or least < 1:
        raise InvalidParams("min_hole_area must be a whole number of pixels, 1 or more")
    return {
        "classes": _class_list(params, "classes", required=False),
        "min_hole_area": least,
        "severity": _severity(params),
    }


def no_holes(image: ImageData, params: Params) -> list[Problem]:
    problems = []
    for a in _chosen(image, params["classes"]):
        found = [n for n in rle.hole_areas(a.rle) if n >= params["min_hole_area"]]
        if found:
            problems.append(
                Problem(
                    params["severity"],
                    f"{a.label} #{a.id} has {_plural(len(found), 'hole')} "
                    f"({sum(found)} px); a {a.label} must have none",
                    (a.id,),
                )
            )
    return problems


# no_overlap ---------------------------------------------------------------------------


def _no_overlap_params(params: Params) -> Params:
    most = params.get("max_iou", 0.0)
    if not isinstance(most, int | float) or isinstance(most, bool) or not 0 <= most < 1:
        raise InvalidParams("max_iou must be a number from 0 up to (not including) 1")
    return {
        "max_iou": float(most),
        "classes": _class_list(params, "classes", required=False),
        "severity": _severity(params),
    }


def no_overlap(image: ImageData, params: Params) -> list[Problem]:
    problems = []
    chosen = _chosen(image, params["classes"])
    for i, a in enumerate(chosen):
        for b in chosen[i + 1 :]:
            if a.label != b.label or not rle.boxes_overlap(a.box, b.box):
                continue
            overlap = rle.iou(a.rle, b.rle)
            if overlap > params["max_iou"]:
                problems.append(
                    Problem(
                        params["severity"],
                        f"{a.label} #{a.id} and #{b.id} overlap (IoU {overlap:.2f}, "
                        f"at most {params['max_iou']:.2f} allowed)",
                        (a.id, b.id),
                    )
                )
    return problems


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("min_area", "Minimum area per class", min_area, _min_area_params),
        Builtin("required_classes", "Classes every image needs", required_classes, _classes_params),
        Builtin(
            "forbidden_classes", "Classes no image may have", forbidden_classes, _classes_params
        ),
        Builtin("max_instances", "Most instances per class", max_instances, _max_instances_params),
        Builtin("one_part", "One connected part per instance", one_part, _one_part_params),
        Builtin("no_holes", "No holes", no_holes, _no_holes_params),
        Builtin("no_overlap", "No overlap within a class", no_overlap, _no_overlap_params),
    )
}


def normalise(name: str, params: Params) -> Params:
    """Check ``params`` for built-in rule ``name``; return them complete (defaults filled).

    Raises :class:`InvalidParams` with a message that names what is wrong."""
    if name not in BUILTINS:
        raise InvalidParams(f"no built-in rule {name!r}; choose from {', '.join(BUILTINS)}")
    if not isinstance(params, dict):
        raise InvalidParams("parameters must be an object")
    return BUILTINS[name].normalise(params)
