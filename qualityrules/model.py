"""What a rule reads and what it returns, as plain data.

Coordinates are in the image's original pixels: ``box`` is COCO's ``[x, y, width, height]``
with x to the right and y down; ``rle`` is a COCO RLE of the full-size mask
(``{"size": [height, width], "counts": str | list[int]}``, column-major runs that begin
with a run of unset pixels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class AnnotationData:
    """One annotation: ``id`` (the server's id, or a negative one for an unsaved mask),
    ``label`` (its class's name), ``box`` ``[x, y, w, h]``, ``area`` in pixels, ``rle``."""

    id: int
    label: str
    box: tuple[int, int, int, int]
    area: int
    rle: dict[str, Any]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnnotationData:
        """From ``{"id", "label", "box", "area", "rle"}`` (the runner's and the API's shape)."""
        box = data.get("box") or [0, 0, 0, 0]
        return cls(
            id=int(data["id"]),
            label=str(data["label"]),
            box=(int(box[0]), int(box[1]), int(box[2]), int(box[3])),
            area=int(data["area"]),
            rle=dict(data["rle"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "box": list(self.box),
            "area": self.area,
            "rle": self.rle,
        }


@dataclass(frozen=True)
class ImageData:
    """An image as rules see it: ``width`` and ``height`` in pixels, its ``name``, and its
    annotations in id order."""

    width: int
    height: int
    annotations: tuple[AnnotationData, ...] = ()
    name: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageData:
        return cls(
            width=int(data["width"]),
            height=int(data["height"]),
            name=str(data.get("name", "")),
            annotations=tuple(AnnotationData.from_dict(a) for a in data.get("annotations", [])),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "name": self.name,
            "annotations": [a.to_dict() for a in self.annotations],
        }

    def of_label(self, label: str) -> list[AnnotationData]:
        """The annotations of class ``label``, in id order."""
        return [a for a in self.annotations if a.label == label]


@dataclass(frozen=True)
class Problem:
    """What a rule found: ``severity`` "error" (blocks submitting without a reason) or
    "warning", a ``message`` for a person, and the ids of the annotations it concerns
    (empty when it concerns the whole image, e.g. a missing class). ``rule`` is filled in
    by the engine with the rule's name."""

    severity: str
    message: str
    annotation_ids: tuple[int, ...] = ()
    rule: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "annotation_ids": list(self.annotation_ids),
        }


def error(message: str, *annotation_ids: int) -> Problem:
    """An error about ``annotation_ids`` (none: the whole image)."""
    return Problem("error", message, tuple(annotation_ids))


def warning(message: str, *annotation_ids: int) -> Problem:
    """A warning about ``annotation_ids`` (none: the whole image)."""
    return Problem("warning", message, tuple(annotation_ids))
