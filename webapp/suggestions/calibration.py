"""How sure a class suggestion must be before the annotator pre-selects it, measured on
the project's own labels (apart from Django, like :mod:`webapp.suggestions.voting`).

The neighbours' vote is only as good as the features under the masks let it be. On
handwritten digits a class with half the votes is right 84 % of the time; on small
photos of look-alike classes, 41 % (docs/benchmarks.md). One fixed bar would pre-select
a wrong class more often than a right one in the second kind of project. So each
project's bar is measured on its labelled examples:

- Each example in turn (at most :data:`MAX_QUERIES`, evenly spread) is voted for by the
  others, exactly as :func:`~webapp.suggestions.voting.vote` votes for a new mask (the
  classes taking part are those with ``min_examples`` examples in the project). An
  example of a class too small to take part is a vote that cannot be right, as a new
  mask of that class would be.
- The bar is the lowest confidence, at least :data:`FLOOR`, at which the votes that
  reach it name the example's class at least ``target`` of the time, counted over at
  least :data:`MIN_SUPPORT` votes; it goes down halfway to the next lower confidence
  a vote had (to :data:`FLOOR` when none had one above it), where nothing was seen to
  be wrong. A project where no confidence does that gets no bar: suggestions are never
  pre-selected there.
- Whatever its confidence, a mask is pre-selected only if its nearest labelled example
  is as similar as that of 95 % of the labelled examples (:data:`FAMILIAR_QUANTILE`):
  the vote is a share among the nearest examples, however far they are, so a mask
  unlike anything labelled (the background, an object of no labelled class) would
  otherwise get a confident vote.
- With fewer than :data:`MIN_EVALUATED` votes, or fewer than :data:`MIN_SUPPORT` of
  them reaching :data:`FLOOR`, there is too little to judge, and the bar is
  :data:`FLOOR`, the rule before any measure: a class with half the votes. (A young
  project's votes rarely reach half: with 5 examples of each of 10 classes, one in 20
  does.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from webapp.suggestions.voting import NEIGHBOURS, TEMPERATURE, Examples

# The least confidence ever pre-selected: below it the neighbours do not even agree by half.
FLOOR = 0.5
# A bar is trusted when at least this many of the project's votes reach it, and
# measured at all once this many reach FLOOR (5 rather than 10: on CIFAR-10 photos with
# 5 examples a class, 10 left a quarter of projects unmeasured, and so pre-selecting
# at half the votes, right 23 % of the time; docs/benchmarks.md) ...
MIN_SUPPORT = 5
# ... and this many votes can be taken.
MIN_EVALUATED = 20
# The examples voted for, at most (evenly spread over the project's): enough to tell
# 80 % from 70 %, and a bounded cost (a (MAX_QUERIES, N) similarity matrix).
MAX_QUERIES = 1000
# A mask counts as like the project's labels when its nearest labelled example is at
# least as similar as this share of the labelled examples' nearest others are: a
# proposal of the background, or of a kind of object nobody labelled, gets a confident
# vote all the same (the vote is a share among the nearest, however far they are).
FAMILIAR_QUANTILE = 0.05
# Queries voted for together: (BLOCK, N) float32 similarities at a time.
BLOCK = 256


@dataclass(frozen=True)
class PreselectionBar:
    """``at``: the least confidence pre-selected (None: never); ``evaluated``: the votes
    it was measured on; ``right``: the share of those reaching ``at`` that were right
    (None when not measured); ``familiar_from``: the least cosine similarity to the
    nearest labelled example at which a mask counts as like the project's labels (None:
    not measured, no such check)."""

    at: float | None
    evaluated: int
    right: float | None
    familiar_from: float | None = None

    def preselects(self, confidence: float, nearest_similarity: float) -> bool:
        """Whether a vote of ``confidence`` for a mask whose nearest labelled example has
        cosine similarity ``nearest_similarity`` is pre-selected."""
        if self.at is None or confidence < self.at:
            return False
        return self.familiar_from is None or nearest_similarity >= self.familiar_from


def leave_one_out_votes(
    examples: Examples,
    *,
    k: int = NEIGHBOURS,
    min_examples: int = 1,
    temperature: float = TEMPERATURE,
    max_queries: int = MAX_QUERIES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each example (up to ``max_queries``, evenly spread) voted for by the others.

    Returns, per example voted for: its class (Q,) int64, the vote's first class (Q,)
    int64, that class's confidence (Q,) float64, as
    :func:`~webapp.suggestions.voting.vote` gives them for the example's feature among
    the other examples of the classes with ``min_examples`` examples in all, and the
    cosine similarity to its nearest such example (Q,) float64. Examples whose vote has
    no neighbour at all are left out."""
    classes, counts = np.unique(examples.classes, return_counts=True)
    eligible = classes[counts >= min_examples]
    n = len(examples.classes)
    none = np.zeros(0, dtype=np.int64)
    if eligible.size == 0 or n == 0:
        return none, none, np.zeros(0), np.zeros(0)
    voters = np.flatnonzero(np.isin(examples.classes, eligible))  # columns
    voter_class = np.searchsorted(eligible, examples.classes[voters])  # (V,) into eligible
    vectors = np.asarray(examples.vectors, dtype=np.float32)
    voter_vectors_t = np.ascontiguousarray(vectors[voters].T)  # (256, V)
    queries = np.unique(np.linspace(0, n - 1, min(n, max_queries)).round().astype(np.int64))
    column_of = np.full(n, -1, dtype=np.int64)
    column_of[voters] = np.arange(len(voters))
    truths, firsts, confidences, nearests = [], [], [], []
    for start in range(0, len(queries), BLOCK):
        block = queries[start : start + BLOCK]
        similarity = vectors[block] @ voter_vectors_t  # (B, V)
        own = column_of[block]
        mine = own >= 0
        similarity[np.flatnonzero(mine), own[mine]] = -np.inf  # an example never votes for itself
        others = len(voters) - mine.astype(np.int64)  # (B,) neighbours available
        has_vote = others > 0
        kk = min(k, len(voters))
        nearest = np.argpartition(similarity, len(voters) - kk, axis=1)[:, -kk:]  # (B, kk)
        near = np.take_along_axis(similarity, nearest, axis=1)
        with np.errstate(invalid="ignore"):
            weights = np.exp((near - near.max(axis=1, keepdims=True)) / temperature)
        weights = np.where(np.isfinite(near), weights, 0.0)  # oneself, when k exceeds the rest
        cells = np.arange(len(block))[:, None] * eligible.size + voter_class[nearest]
        scores = np.bincount(
            cells.ravel(), weights.ravel(), minlength=len(block) * eligible.size
        ).reshape(len(block), eligible.size)
        first = scores.argmax(axis=1)  # ties: the smallest class id, as vote's ranking
        total = scores.sum(axis=1)
        best = scores[np.arange(len(block)), first]
        truths.append(examples.classes[block][has_vote])
        firsts.append(eligible[first][has_vote])
        confidences.append(np.minimum(1.0, best / np.where(total > 0, total, 1.0))[has_vote])
        nearests.append(near.max(axis=1)[has_vote].astype(np.float64))
    return (
        np.concatenate(truths).astype(np.int64),
        np.concatenate(firsts).astype(np.int64),
        np.concatenate(confidences),
        np.concatenate(nearests),
    )


def preselection_bar(
    examples: Examples,
    target: float,
    *,
    k: int = NEIGHBOURS,
    min_examples: int = 1,
    temperature: float = TEMPERATURE,
    max_queries: int = MAX_QUERIES,
) -> PreselectionBar:
    """The project's bar by the rule in this module's docstring: pre-selected votes are
    right at least ``target`` (0..1] of the time on the project's own examples."""
    truth, first, confidence, nearest = leave_one_out_votes(
        examples, k=k, min_examples=min_examples, temperature=temperature, max_queries=max_queries
    )
    if len(truth) < MIN_EVALUATED:
        return PreselectionBar(FLOOR, len(truth), None)
    familiar = float(np.quantile(nearest, FAMILIAR_QUANTILE))
    order = np.argsort(-confidence, kind="stable")
    ranked_confidence = confidence[order]
    right = np.cumsum(first[order] == truth[order])
    reached = np.arange(1, len(order) + 1)
    # A bar at the i-th confidence takes every vote with that confidence or more: only
    # the last of equal confidences is a place to stop.
    last_of_tie = np.append(ranked_confidence[1:] != ranked_confidence[:-1], True)
    precision = right / reached
    if (ranked_confidence >= FLOOR).sum() < MIN_SUPPORT:
        return PreselectionBar(FLOOR, len(truth), None, familiar)
    usable = (
        last_of_tie
        & (reached >= MIN_SUPPORT)
        & (ranked_confidence >= FLOOR)
        & (precision >= target)
    )
    if not usable.any():
        return PreselectionBar(None, len(truth), None, familiar)
    lowest = int(np.flatnonzero(usable)[-1])
    # No vote fell between this confidence and the next lower one: the bar goes halfway
    # down to it, or to the floor when that one is below the floor.
    below = ranked_confidence[lowest + 1 :] if lowest + 1 < len(order) else ranked_confidence[:0]
    at = FLOOR if not len(below) or below[0] < FLOOR else (below[0] + ranked_confidence[lowest]) / 2
    return PreselectionBar(float(at), len(truth), float(precision[lowest]), familiar)
