"""Suggesting a label class for a mask: a vote of its nearest labelled neighbours.

The rule, in full:
- The examples are the project's annotations whose feature was pooled with the
  project's model (:class:`AnnotationFeature`), each with its annotation's current class,
  except those whose class no person has checked yet (given from a suggestion by
  "accept all with their suggested classes", on an image not accepted in review).
- A class takes part only once it has at least ``min_examples`` examples
  (``SAMLABEL_SUGGESTION_MIN_EXAMPLES``, default 3); with no such class there is no
  suggestion (an empty list).
- Among the examples of those classes, the ``k`` (default 10) most similar to the
  mask's feature by cosine vote, each with weight ``exp((cos - best cos) / 0.05)``: the
  nearest counts most, and one much farther than the nearest counts for little.
- A class's confidence is its share of the votes, in [0, 1]; the classes that got
  votes come best first.
- The first class is marked ``preselect`` when its confidence reaches the project's
  bar, measured on the project's own examples, and the mask is like them (its nearest
  example close enough; :mod:`webapp.suggestions.calibration`): the annotator
  pre-selects only such a class.

The examples are read from the database on each call (one indexed query: 53 ms at
best, 116 ms median, for 5,000 annotations on a loaded 2-core CPU; see
docs/benchmarks.md), so a new feature or a class changed on an annotation counts at
once, with no cache to keep right. Only the bar, which costs a vote per example, is
kept in Django's cache (:func:`project_bar`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from django.conf import settings
from django.core.cache import cache

from webapp.projects.models import LabelClass, Project
from webapp.suggestions.calibration import PreselectionBar, preselection_bar
from webapp.suggestions.models import FEATURE_DIM, FEATURE_DTYPE, AnnotationFeature
from webapp.suggestions.voting import NEIGHBOURS, Examples, nearest_similarity, vote

# How long a measured bar is kept in the cache.
BAR_CACHE_SECONDS = 24 * 3600
# A bar measured on this many examples or more serves on, for a while, while their
# number changes by at most this share (see project_bar).
REUSE_FROM = 500
REUSE_SHARE = 0.05
REUSE_SECONDS = 600


class Suggestion(TypedDict):
    label_class: int
    name: str
    confidence: float
    preselect: bool  # the annotator pre-selects it (only ever the first)


def project_examples(project: Project) -> Examples:
    """The project's labelled features for its model, in one query. An annotation whose
    class was suggested and given with no person choosing it is left out until a person
    gives it a class or its image is accepted (see ``Annotation.class_suggested``)."""
    rows = list(
        AnnotationFeature.objects.filter(
            project=project, model=project.model, annotation__class_suggested=False
        ).values_list("annotation_id", "annotation__label_class_id", "vector")
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
    ``[{"label_class": id, "name": str, "confidence": 0..1, "preselect": bool}, ...]``
    (``preselect`` as in this module's docstring); empty when no class
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
    return rank_with_bar(
        project, features, k=k, min_examples=min_examples, exclude_annotations=exclude_annotations
    )[0]


def rank_with_bar(
    project: Project,
    features: Sequence[np.ndarray],
    *,
    k: int = NEIGHBOURS,
    min_examples: int | None = None,
    exclude_annotations: Iterable[int] = (),
) -> tuple[list[list[Suggestion]], PreselectionBar]:
    """:func:`rank_many`, and the project's pre-selection bar it marked them by (measured
    on all the project's examples, ``exclude_annotations`` included)."""
    if min_examples is None:
        min_examples = settings.SAMLABEL_SUGGESTION_MIN_EXAMPLES
    examples = project_examples(project)
    bar = project_bar(project, examples, k=k, min_examples=min_examples)
    excluded = list(exclude_annotations)
    if excluded:
        keep = ~np.isin(examples.annotations, excluded)
        examples = Examples(
            examples.vectors[keep], examples.classes[keep], examples.annotations[keep]
        )
    votes = [vote(examples, feature, k=k, min_examples=min_examples) for feature in features]
    nearest = [nearest_similarity(examples, f, min_examples=min_examples) for f in features]
    names = dict(
        LabelClass.objects.filter(
            project=project, pk__in=set(examples.classes.tolist())
        ).values_list("pk", "name")
    )
    ranked: list[list[Suggestion]] = []
    for classes, similarity in zip(votes, nearest, strict=True):
        known = [(label, confidence) for label, confidence in classes if label in names]
        ranked.append(
            [
                {
                    "label_class": label,
                    "name": names[label],
                    "confidence": round(confidence, 4),
                    "preselect": i == 0 and bar.preselects(confidence, similarity),
                }
                for i, (label, confidence) in enumerate(known)
            ]
        )
    return ranked, bar


def current_bar(project: Project) -> PreselectionBar:
    """The project's pre-selection bar with the settings' rule (as :func:`rank` uses)."""
    return project_bar(
        project,
        project_examples(project),
        k=NEIGHBOURS,
        min_examples=settings.SAMLABEL_SUGGESTION_MIN_EXAMPLES,
    )


def project_bar(
    project: Project, examples: Examples, *, k: int, min_examples: int
) -> PreselectionBar:
    """The confidence from which the project's suggestions are pre-selected, measured on
    ``examples`` (its own, as :func:`project_examples` reads them).

    Measured once and kept in the cache with a digest of the examples. A bar measured
    on at least :data:`REUSE_FROM` examples serves on for :data:`REUSE_SECONDS` while
    their number changes by at most :data:`REUSE_SHARE`: a few more labels barely move
    it, and measuring it costs a vote per example (155 ms at 20,000 on a 2-core CPU,
    docs/benchmarks.md)."""
    target = settings.SAMLABEL_SUGGESTION_PRESELECT_PERCENT / 100
    digest = hashlib.blake2b(digest_size=16)
    for part in (examples.annotations, examples.classes, examples.vectors):
        digest.update(np.ascontiguousarray(part).tobytes())
    key = f"suggestion-bar:{project.pk}:{project.model}:{k}:{min_examples}:{target}"
    count = len(examples.classes)
    found = cache.get(key)
    if isinstance(found, MeasuredBar) and (
        found.digest == digest.hexdigest()
        or (
            found.count >= REUSE_FROM
            and abs(count - found.count) <= REUSE_SHARE * found.count
            and time.time() - found.measured_at < REUSE_SECONDS
        )
    ):
        return found.bar
    bar = preselection_bar(examples, target, k=k, min_examples=min_examples)
    cache.set(key, MeasuredBar(bar, digest.hexdigest(), count, time.time()), BAR_CACHE_SECONDS)
    return bar


@dataclass(frozen=True)
class MeasuredBar:
    """A bar in the cache, with what it was measured on: a digest of the examples, their
    number, and when (seconds since the epoch)."""

    bar: PreselectionBar
    digest: str
    count: int
    measured_at: float
