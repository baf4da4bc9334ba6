"""The labelme reader of the instance-recall benchmark: shapes become objects, shapes
sharing a group id one object, ``__ignore__`` regions are left out of the IoU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks.everything_instances import labelme_objects
from inference.clicks import IGNORE, iou


def write(folder: Path, shapes: list[dict]) -> Path:
    path = folder / "photo.json"
    data = {"imagePath": "photo.jpg", "imageHeight": 20, "imageWidth": 30, "shapes": shapes}
    path.write_text(json.dumps(data))
    return path


def shape(label: str, points: list[list[float]], kind: str, group: int | None = None) -> dict:
    return {"label": label, "points": points, "shape_type": kind, "group_id": group}


def test_shapes_groups_and_ignored_regions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            shape("car", [[2, 2], [9, 7]], "rectangle"),
            shape("person", [[12, 2], [15, 2], [15, 9], [12, 9]], "polygon", group=1),
            shape("person", [[12, 12], [15, 12], [15, 18], [12, 18]], "polygon", group=1),
            shape("__ignore__", [[20, 0], [29, 19]], "rectangle"),
        ],
    )
    photo, size, objects = labelme_objects(path)
    assert photo == tmp_path / "photo.jpg" and size == (20, 30)
    assert [o.label for o in objects] == ["car", "person"]
    car, person = (o.truth for o in objects)
    assert (car == 255).sum() == 8 * 6  # the rectangle's pixels, corners included
    assert (person[2:10, 12:16] == 255).all() and (person[12:19, 12:16] == 255).all()
    assert (person[10:12] != 255).all()  # two parts of one object, a gap between
    assert (car[:, 20:] == IGNORE).all() and (person[:, 20:] == IGNORE).all()
    # A mask that also covers the ignored region scores as if it did not.
    assert iou((car == 255) | (np.arange(30) >= 20)[None, :], car) == 1.0
