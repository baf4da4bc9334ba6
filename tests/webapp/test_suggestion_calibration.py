"""The pre-selection bar measured on a project's own examples
(webapp.suggestions.calibration): its leave-one-out votes are the product's vote, and the
bar is the lowest confidence at which those votes are right often enough."""

from __future__ import annotations

import numpy as np
import pytest

from webapp.suggestions.calibration import (
    FLOOR,
    MIN_EVALUATED,
    MIN_SUPPORT,
    leave_one_out_votes,
    preselection_bar,
)
from webapp.suggestions.voting import Examples, nearest_similarity, vote


def unit_rows(rows: np.ndarray) -> np.ndarray:
    rows = rows.astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def clustered(
    per_class: list[int], spread: float, seed: int = 0, class_ids: list[int] | None = None
) -> Examples:
    """Examples around one random centre per class; ``spread`` is the noise's scale
    beside the unit centres (small: classes apart; large: mixed)."""
    rng = np.random.default_rng(seed)
    ids = class_ids or [10 * (c + 1) for c in range(len(per_class))]
    centres = unit_rows(rng.standard_normal((len(per_class), 256)))
    vectors, classes = [], []
    for centre, label, count in zip(centres, ids, per_class, strict=True):
        noise = rng.standard_normal((count, 256)) * spread / np.sqrt(256)
        vectors.append(unit_rows(centre + noise))
        classes += [label] * count
    stacked = np.concatenate(vectors)
    order = rng.permutation(len(classes))  # classes interleaved, as a project's rows are
    return Examples(
        stacked[order], np.array(classes, dtype=np.int64)[order], np.arange(len(classes)) + 1
    )


@pytest.mark.parametrize(
    ("per_class", "k", "min_examples"),
    [([12, 9, 7], 10, 1), ([12, 9, 2], 10, 3), ([4, 3, 3], 10, 1), ([30, 25, 20, 5], 3, 5)],
)
def test_each_examples_vote_is_the_products_vote_without_it(
    per_class: list[int], k: int, min_examples: int
) -> None:
    examples = clustered(per_class, spread=1.2)
    truth, first, confidence, nearest = leave_one_out_votes(
        examples, k=k, min_examples=min_examples
    )
    counts = dict(zip(*np.unique(examples.classes, return_counts=True), strict=True))
    eligible = [c for c, n in counts.items() if n >= min_examples]
    expected, nearest_expected = [], []
    for i in range(len(examples.classes)):
        others = np.arange(len(examples.classes)) != i
        # The classes taking part are those of the whole project, the example included.
        voters = others & np.isin(examples.classes, eligible)
        ranked = vote(
            Examples(
                examples.vectors[voters], examples.classes[voters], examples.annotations[voters]
            ),
            examples.vectors[i],
            k=k,
        )
        expected.append((examples.classes[i], ranked[0][0], ranked[0][1]))
        nearest_expected.append(
            nearest_similarity(
                Examples(
                    examples.vectors[voters], examples.classes[voters], examples.annotations[voters]
                ),
                examples.vectors[i],
            )
        )
    assert len(truth) == len(expected) == sum(per_class)
    assert truth.tolist() == [t for t, _, _ in expected]
    assert first.tolist() == [f for _, f, _ in expected]
    np.testing.assert_allclose(confidence, [c for _, _, c in expected], rtol=1e-5)
    np.testing.assert_allclose(nearest, nearest_expected, rtol=1e-5)
    # An example of a class too small to take part can never be voted right.
    small = ~np.isin(truth, eligible)
    assert not (first[small] == truth[small]).any()


def test_separate_classes_keep_the_half_vote_bar() -> None:
    examples = clustered([15, 15, 15], spread=0.3)
    bar = preselection_bar(examples, 0.8)
    assert bar.at == FLOOR
    assert bar.evaluated == 45
    assert bar.right == 1.0


def test_classes_the_features_cannot_tell_apart_are_never_preselected() -> None:
    rng = np.random.default_rng(3)
    vectors = unit_rows(rng.standard_normal((200, 256)))
    classes = rng.integers(0, 5, 200)
    bar = preselection_bar(Examples(vectors, classes, np.arange(200) + 1), 0.8)
    assert bar.at is None
    assert bar.right is None
    assert bar.evaluated == 200


def test_the_bar_is_the_lowest_confidence_right_often_enough() -> None:
    # Two classes apart and three that overlap: confident votes are right, the others not.
    apart = clustered([20, 20], spread=0.3, seed=1, class_ids=[1, 2])
    mixed = clustered([40, 40, 40, 40], spread=20.0, seed=2, class_ids=[3, 4, 5, 6])
    examples = Examples(
        np.concatenate([apart.vectors, mixed.vectors]),
        np.concatenate([apart.classes, mixed.classes]),
        np.arange(200) + 1,
    )
    target = 0.8
    bar = preselection_bar(examples, target)
    truth, first, confidence, _ = leave_one_out_votes(examples)
    assert bar.at is not None and bar.at > FLOOR
    reached = confidence >= bar.at
    assert reached.sum() >= MIN_SUPPORT
    assert bar.right == pytest.approx((first[reached] == truth[reached]).mean())
    assert bar.right >= target
    for lower in np.unique(confidence[(confidence >= FLOOR) & (confidence < bar.at)]):
        taken = confidence >= lower
        assert (first[taken] == truth[taken]).mean() < target, lower
    # Halfway between the lowest confidence taken and the next one below it.
    taken_lowest = confidence[reached].min()
    next_below = confidence[~reached].max()
    assert FLOOR <= next_below < bar.at < taken_lowest
    assert bar.at == pytest.approx((taken_lowest + next_below) / 2)
    # A lower target lets more votes through.
    assert preselection_bar(examples, 0.5).at is not None
    assert preselection_bar(examples, 0.5).at <= bar.at  # type: ignore[operator]


def test_too_few_votes_keep_the_half_vote_bar_unmeasured() -> None:
    examples = clustered([6, 6, 5], spread=6.0)
    assert len(examples.classes) < MIN_EVALUATED
    bar = preselection_bar(examples, 0.8)
    assert (bar.at, bar.evaluated, bar.right) == (FLOOR, 17, None)
    assert preselection_bar(Examples(examples.vectors[:0], examples.classes[:0],
                                     examples.annotations[:0]), 0.8).evaluated == 0  # fmt: skip


def test_a_young_project_whose_votes_rarely_reach_half_keeps_the_half_vote_bar() -> None:
    # Five examples of each of ten classes: enough votes, but few reach half.
    examples = clustered([5] * 10, spread=50.0)
    _, _, confidence, _ = leave_one_out_votes(examples)
    assert len(confidence) >= MIN_EVALUATED and (confidence >= FLOOR).sum() < MIN_SUPPORT
    bar = preselection_bar(examples, 0.8)
    assert (bar.at, bar.evaluated, bar.right) == (FLOOR, 50, None)


def test_a_large_project_is_measured_on_evenly_spread_examples() -> None:
    examples = clustered([400, 400], spread=0.3)
    truth, _, _, _ = leave_one_out_votes(examples, max_queries=100)
    assert len(truth) == 100
    assert set(truth.tolist()) == {10, 20}
    assert preselection_bar(examples, 0.8, max_queries=100).evaluated == 100


def test_a_mask_unlike_every_labelled_example_is_never_preselected() -> None:
    examples = clustered([15, 15], spread=0.3)
    bar = preselection_bar(examples, 0.8)
    assert bar.at == FLOOR and bar.familiar_from is not None
    _, _, _, nearest = leave_one_out_votes(examples)
    assert bar.familiar_from == pytest.approx(np.quantile(nearest, 0.05))
    # Like the first class's examples: pre-selected.
    like = examples.vectors[examples.classes == 10][0]
    assert bar.preselects(1.0, nearest_similarity(examples, like))
    # Orthogonal to all of them: the vote may be unanimous, the mask is like nothing.
    stranger = np.zeros(256, dtype=np.float32)
    stranger[np.argmin(np.abs(examples.vectors).sum(axis=0))] = 1.0
    assert nearest_similarity(examples, stranger) < bar.familiar_from
    assert not bar.preselects(1.0, nearest_similarity(examples, stranger))
