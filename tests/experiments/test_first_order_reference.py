"""The fitted first-order reference of the synthetic study, by hand on a tiny log."""

import numpy as np
import pytest

from experiments.first_order_reference import evaluate, first_order_reference, fit_counts
from tagnn_tf.data.datasets import DatasetSplits
from tagnn_tf.data.sessions import SessionExamples, augment
from tagnn_tf.errors import InputError

# Training sessions [1, 2, 3] and [1, 2] give the examples [1] -> 2, [1, 2] -> 3, [1] -> 2 (no repeats):
# transitions 1 -> 2 twice and 2 -> 3 once; label counts plus one over items 1..3: 1, 3, 2 (of 6).
TRAIN = augment([[1, 2, 3], [1, 2]])


def test_counts_and_popularity():
    counts, popularity = fit_counts(TRAIN, num_items=3)
    np.testing.assert_array_equal(counts.toarray(), [[0, 0, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1], [0, 0, 0, 0]])
    np.testing.assert_allclose(popularity, [0, 1 / 6, 3 / 6, 2 / 6])


def test_a_repeat_label_is_not_a_transition():
    # [1, 2, 1]: the example [1, 2] -> 1 repeats item 1, so only 1 -> 2 is counted.
    counts, _ = fit_counts(augment([[1, 2, 1]]), num_items=2)
    np.testing.assert_array_equal(counts.toarray(), [[0, 0, 0], [0, 0, 1], [0, 0, 0]])


def test_scores_by_hand():
    counts, popularity = fit_counts(TRAIN, num_items=3)
    # Prefix [2], label 3, alpha 1: walk ~ counts[2] + pop = (1/6, 3/6, 1 + 2/6) without the session's item 2
    # -> (1/6, 0, 8/6) / (9/6) = (1/9, 0, 8/9); P_repeat = (0, 1, 0).
    # p = 0.5: item 2 scores 0.5, item 3 0.5 * 8/9 = 0.44 -> the label ranks 2 (MRR 1/2).
    # p = 0.4: item 2 0.4, item 3 0.6 * 8/9 = 0.53 -> rank 1.
    test = SessionExamples.from_lists([[2]], [3])
    half, four = evaluate(test, counts, popularity, [(1.0, 0.5), (1.0, 0.4)], recency=0.6)
    assert (half["mrr@20"], half["hr@20"]) == (50.0, 100.0)
    assert (four["mrr@20"], four["hr@20"]) == (100.0, 100.0)
    assert half["new/hr@20"] == 100.0 and "repeat/hr@20" not in half


def test_repeat_weights_follow_recency():
    counts, popularity = fit_counts(TRAIN, num_items=3)
    # Prefix [1, 2], label 1 (a repeat): P_repeat = item 2 (age 0) 1 / 1.6 = 0.625, item 1 (age 1) 0.6 / 1.6
    # = 0.375; the walk from 2 leaves the session: all of it on item 3. With p = 0.9: item 2 0.5625, item 1
    # 0.3375, item 3 0.1 -> the label ranks 2. With recency 2 (older clicks weigh more): item 1 2/3, item 2 1/3
    # -> rank 1.
    test = SessionExamples.from_lists([[1, 2]], [1])
    recent, = evaluate(test, counts, popularity, [(1.0, 0.9)], recency=0.6)
    older, = evaluate(test, counts, popularity, [(1.0, 0.9)], recency=2.0)
    assert recent["repeat/mrr@20"] == 50.0 and older["repeat/mrr@20"] == 100.0
    assert recent["repeat_share"] == 100.0


def test_the_setting_is_picked_on_validation_and_scored_on_test():
    # Validation [2] -> 3: HR@20 ties at 100, MRR@20 prefers p = 0.4 (above). Test [1] -> 2: the walk puts
    # (2 + 3/6) / (2 + 1) on item 2, well above item 3, so every p ranks it 1.
    splits = DatasetSplits(train=TRAIN, valid=SessionExamples.from_lists([[2]], [3]),
                           test=SessionExamples.from_lists([[1]], [2]), num_items=3)
    out = first_order_reference(splits, alphas=(1.0,), repeat_weights=(0.5, 0.4), log=lambda *_: None)
    assert (out["alpha"], out["repeat_weight"]) == (1.0, 0.4)
    assert [g["val"]["mrr@20"] for g in out["grid"]] == [50.0, 100.0]
    assert out["test"]["mrr@20"] == 100.0 and out["recency"] == pytest.approx(0.6)


def test_no_validation_is_refused():
    empty = SessionExamples.from_lists([], [])
    splits = DatasetSplits(train=TRAIN, valid=empty, test=SessionExamples.from_lists([[1]], [2]), num_items=3)
    with pytest.raises(InputError, match="validation"):
        first_order_reference(splits, log=lambda *_: None)
