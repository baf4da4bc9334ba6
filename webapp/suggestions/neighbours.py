"""Suggesting a label class for a mask: a vote of its nearest labelled neighbours.

The rule, in full:
- The examples are the project's annotations whose feature was pooled with the
  project's model (:class:`AnnotationFeature`), each with its annotation's current class.
- A class takes part only once it has at least ``min_examples`` examples
  (``SAMLABEL_SUGGESTION_MIN_EXAMPLES``, default 3); with no such class there is no
  suggestion (an empty list).
- Among the examples of those classes, the ``k`` (default 10) most similar to the
  mask's feature by cosine vote, each with weight ``exp((cos - best cos) / 0.05)``: the
  nearest counts most, and one much farther than the nearest counts for little.
- A class's confidence is its share of the votes, in [0, 1]; the classes that got
  votes come best first.

The examples are read from the database on each call (one indexed query: 53 ms at
best, 116 ms median, for 5,000 annotations on a loaded 2-core CPU; see
docs/benchmarks.md), so a new feature or a class changed on an annotation counts at
once, with no cache to keep right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypedDict

import numpy as np
from django.conf import settings

from webapp.projects.models import LabelClass, Project
from webapp.suggestions.models import FEATURE_DIM, FEATURE_DTYPE, AnnotationFeature
from webapp.suggestions.voting import NEIGHBOURS, Examples, vote


class Suggestion(TypedDict):
    label_class: int
    name: str
    confidence: float


def project_examples(project: Project) -> Examples:
    """The project's labelled features for its model, in one query."""
    rows = list(
        AnnotationFeature.objects.filter(project=project, model=project.model).values_list(
            "annotation_id", "annotation__label_class_id", "vector"
        )
    )
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return Examples(np.zeros((0, FEATURE_DIM), dtype=np.float32), empty, empty)
    blob = b"".join(bytes(vector) for _, _, vector in rows)
    vectors = np.frombuffer(blob, dtype=FEATURE_DTYPE).reshape(len(rows), FEATURE_DIM)
    return Examples(
        vectors=vectors.astype(np.float32),
        classes=np.array([label for _, label, _ in rows], dtype=np.int64),
        annotations=np.array([pk for pk, _, _ in rows], dtype=np.int64),
    )


def rank(
    project: Project,
    feature: np.ndarray,
    *,
    k: int = NEIGHBOURS,
    min_examples: int | None = None,
    exclude_annotations: Iterable[int] = (),
) -> list[Suggestion]:
    """The label classes suggested for a mask whose pooled feature is ``feature``
    ((256,) float, as :func:`webapp.suggestions.feature_for_mask` returns), best first:
    ``[{"label_class": id, "name": str, "confidence": 0..1}, ...]``; empty when no class
    has ``min_examples`` examples yet. ``exclude_annotations``: annotations that must not
    vote (the one being asked about)."""
    return rank_many(
        project, [feature], k=k, min_examples=min_examples, exclude_annotations=exclude_annotations
    )[0]


def rank_many(
    project: Project,
    features: Sequence[np.ndarray],
    *,
    k: int = NEIGHBOURS,
    min_examples: int | None = None,
    exclude_annotations: Iterable[int] = (),
) -> list[list[Suggestion]]:
    """:func:`rank` for each of ``features`` (an image's proposals, say), reading the
    project's examples once."""
    if min_examples is None:
        min_examples = settings.SAMLABEL_SUGGESTION_MIN_EXAMPLES
    examples = project_examples(project)
    excluded = list(exclude_annotations)
    if excluded:
        keep = ~np.isin(examples.annotations, excluded)
        examples = Examples(
            examples.vectors[keep], examples.classes[keep], examples.annotations[keep]
        )
    votes = [vote(examples, feature, k=k, min_examples=min_examples) for feature in features]
    names = dict(
        LabelClass.objects.filter(
            project=project, pk__in=set(examples.classes.tolist())
        ).values_list("pk", "name")
    )
    return [
        [
            {"label_class": label, "name": names[label], "confidence": round(confidence, 4)}
            for label, confidence in ranked
            if label in names
        ]
        for ranked in votes
    ]
