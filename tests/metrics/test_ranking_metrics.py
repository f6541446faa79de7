import numpy as np
import pytest
import tensorflow as tf

from tagnn_tf.metrics.ranking_metrics import finalize, label_repeats, numpy_rank_sums, rank_sums, target_ranks


def test_ranks_by_hand():
    logits = tf.constant([[0.1, 0.9, 0.5, 0.3],   # label item 3 (score .5): one above -> rank 2
                          [0.4, 0.2, 0.1, 0.0],   # label item 1 (.4): rank 1
                          [0.0, 0.0, 0.0, 1.0]])  # label item 2 (0): only 1.0 is strictly above -> rank 2
    ranks = target_ranks(logits, tf.constant([3, 1, 2]))
    assert ranks.numpy().tolist() == [2, 1, 2]


def test_hr_and_mrr_percentages():
    # Ranks 1, 5, 15, 30: HR@10 = 2/4, HR@20 = 3/4; MRR@10 = (1 + 1/5)/4, MRR@20 = (1 + 1/5 + 1/15)/4.
    sums = {k: float(v) for k, v in rank_sums(tf.constant([1, 5, 15, 30])).items()}
    m = finalize(sums)
    assert m["hr@10"] == 50.0 and m["hr@20"] == 75.0
    assert m["mrr@10"] == pytest.approx(100 * 1.2 / 4, abs=1e-4)
    assert m["mrr@20"] == pytest.approx(100 * (1.2 + 1 / 15) / 4, abs=1e-4)


def test_matches_sorting_on_random_scores():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(64, 300)).astype(np.float32)
    labels = rng.integers(1, 301, size=64)
    ranks = target_ranks(tf.constant(logits), tf.constant(labels)).numpy()
    order = np.argsort(-logits, axis=1)
    expected = [int(np.where(order[i] == labels[i] - 1)[0][0]) + 1 for i in range(64)]
    assert ranks.tolist() == expected


def test_empty_is_an_error():
    with pytest.raises(ValueError, match="No examples"):
        finalize({"count": 0.0, "hr@20": 0.0})


def test_repeat_and_new_subsets_by_hand():
    # Sessions [5, 7] label 7 (repeat), [3] label 4 (new), [2, 2] label 2 (repeat), [8] label 9 (new);
    # ranks 1, 5, 30, 15: repeat labels have ranks 1, 30 -> HR@20 1/2, MRR@20 (1 + 0)/2;
    # new labels ranks 5, 15 -> HR@20 2/2, MRR@20 (1/5 + 1/15)/2; repeat share 2/4.
    items = tf.constant([[5, 7], [3, 0], [2, 0], [8, 0]])
    labels = tf.constant([7, 4, 2, 9])
    repeats = label_repeats(items, labels)
    assert repeats.numpy().tolist() == [True, False, True, False]
    for sums in ({k: float(v) for k, v in rank_sums(tf.constant([1, 5, 30, 15]), repeats=repeats).items()},
                 numpy_rank_sums(np.array([1, 5, 30, 15]), repeats=repeats.numpy())):
        m = finalize(sums)
        assert m["repeat_share"] == 50.0
        assert m["repeat/hr@20"] == 50.0 and m["repeat/mrr@20"] == 50.0
        assert m["new/hr@20"] == 100.0 and m["new/mrr@20"] == pytest.approx(100 * (1 / 5 + 1 / 15) / 2, abs=1e-4)
        assert m["hr@20"] == 75.0


def test_an_empty_subset_has_no_metrics():
    m = finalize(numpy_rank_sums(np.array([1, 2]), repeats=np.array([False, False])))
    assert m["repeat_share"] == 0.0 and "repeat/hr@20" not in m and m["new/hr@20"] == 100.0
