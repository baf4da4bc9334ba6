"""Class suggestions: SAM's image embedding pooled under each mask (one 256-value vector
per annotation, computed on the worker), and the label class a new mask most likely has,
by a vote of its nearest neighbours among the project's labelled annotations.

The functions other apps call, importable before Django's apps are ready:
:func:`rank` (the classes for a feature, best first), :func:`rank_many` (the same for
many features, reading the project's examples once) and :func:`feature_for_mask`
(an image's embedding pooled under one mask).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from webapp.images.models import Image
    from webapp.projects.models import Project
    from webapp.suggestions.neighbours import Suggestion


def rank(project: Project, feature: np.ndarray, **options: Any) -> list[Suggestion]:
    """See :func:`webapp.suggestions.neighbours.rank`."""
    from webapp.suggestions.neighbours import rank as rank_classes

    return rank_classes(project, feature, **options)


def rank_many(
    project: Project, features: Sequence[np.ndarray], **options: Any
) -> list[list[Suggestion]]:
    """See :func:`webapp.suggestions.neighbours.rank_many` (one read for many masks)."""
    from webapp.suggestions.neighbours import rank_many as rank_all

    return rank_all(project, features, **options)


def feature_for_mask(
    image: Image, rle: dict[str, Any], embedding: np.ndarray | None = None
) -> np.ndarray | None:
    """See :func:`webapp.suggestions.features.feature_for_mask`."""
    from webapp.suggestions.features import feature_for_mask as pool

    return pool(image, rle, embedding)
