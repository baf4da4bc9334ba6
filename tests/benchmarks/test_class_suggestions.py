"""The class-suggestion benchmark's leave-one-out protocol, on synthetic features."""

from __future__ import annotations

import math

import numpy as np

from benchmarks.class_suggestions import top1_accuracy


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


def test_k_beyond_the_classes_sizes_is_not_measured() -> None:
    features, labels = clusters(8, 0.01)
    accuracy, queries, classes = top1_accuracy(features, labels, k=20, draws=1)
    assert math.isnan(accuracy) and queries == 0 and classes == 0
