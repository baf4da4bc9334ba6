"""The vote that suggests a label class, apart from Django so that benchmarks run it on
their own data (the rule is in :mod:`webapp.suggestions.neighbours`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FEATURE_DIM = 256
NEIGHBOURS = 10
TEMPERATURE = 0.05


@dataclass(frozen=True)
class Examples:
    """Labelled features: ``vectors`` (N, 256) float32 unit rows, ``classes`` (N,) int64
    label class ids, ``annotations`` (N,) int64 annotation ids."""

    vectors: np.ndarray
    classes: np.ndarray
    annotations: np.ndarray


def taking_part(examples: Examples, min_examples: int) -> np.ndarray:
    """(N,) bool: the examples of the classes with at least ``min_examples`` examples."""
    classes, counts = np.unique(examples.classes, return_counts=True)
    return np.isin(examples.classes, classes[counts >= min_examples])


def nearest_similarity(examples: Examples, feature: np.ndarray, *, min_examples: int = 1) -> float:
    """The cosine similarity of ``feature`` (256,) to its nearest example among the
    classes taking part (as :func:`vote` counts them); -inf when there is none."""
    keep = taking_part(examples, min_examples)
    if not keep.any():
        return -np.inf
    query = np.asarray(feature, dtype=np.float32).reshape(FEATURE_DIM)
    return float((examples.vectors[keep] @ query).max())


def vote(
    examples: Examples,
    feature: np.ndarray,
    *,
    k: int = NEIGHBOURS,
    min_examples: int = 1,
    temperature: float = TEMPERATURE,
) -> list[tuple[int, float]]:
    """(class id, confidence) by the rule in this module's docstring, best first.
    ``feature``: (256,) float, unit length (as pooled)."""
    keep = taking_part(examples, min_examples)
    if not keep.any():
        return []
    vectors, labels = examples.vectors[keep], examples.classes[keep]
    similarity = vectors @ np.asarray(feature, dtype=np.float32).reshape(FEATURE_DIM)  # (N,)
    k = min(k, similarity.size)
    nearest = np.argpartition(-similarity, k - 1)[:k]
    weights = np.exp((similarity[nearest] - similarity[nearest].max()) / temperature)
    scores: dict[int, float] = {}
    for label, weight in zip(labels[nearest].tolist(), weights.tolist(), strict=True):
        scores[label] = scores.get(label, 0.0) + weight
    total = sum(scores.values())
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [(label, min(1.0, score / total)) for label, score in ranked]
