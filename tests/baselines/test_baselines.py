"""The non-neural baselines on hand-checkable sessions, and their run directories."""

import json
import math
import os

import numpy as np
import pytest

from tagnn_tf import run_directory
from tagnn_tf.baselines import ItemKNN, Popularity, SequentialRules, SessionKNN, SessionPopularity, make_baseline
from tagnn_tf.baselines.baseline_run import fit_baseline
from tagnn_tf.baselines.session_matrices import Sequences
from tagnn_tf.config import BaselineConfig, DataConfig, ExperimentConfig, ModelConfig
from tagnn_tf.data.datasets import load_splits
from tagnn_tf.errors import InputError
from tagnn_tf.metrics.ranking_metrics import numpy_rank_sums, numpy_target_ranks


def seqs(rows):
    splits = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    return Sequences(np.array([v for r in rows for v in r], np.int32), splits)


# Training sessions A, B, C over items 1..6.
TRAIN = seqs([[1, 2, 3], [2, 4], [5, 6]])


def test_popularity_and_session_popularity():
    # Clicks: item 2 twice, the others once; POP = count / (max + 1) = count / 3.
    pop = Popularity(6).fit(TRAIN).score(seqs([[5]]))
    np.testing.assert_allclose(pop, [[1 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    # S-POP of [5, 6, 5]: item 5 clicked twice, 6 once, plus POP.
    spop = SessionPopularity(6).fit(TRAIN).score(seqs([[5, 6, 5]]))
    np.testing.assert_allclose(spop, [[1 / 3, 2 / 3, 1 / 3, 1 / 3, 2 + 1 / 3, 1 + 1 / 3]], rtol=1e-6)


def test_item_knn_scores_the_last_click():
    # Sessions holding each item: c1 = 1, c2 = 2, c3 = 1. Item 3 co-occurs with 1 (in A) and 2 (in A):
    # sim(3, 1) = 1 / sqrt(1 * 1) = 1; sim(3, 2) = 1 / sqrt(1 * 2) = 0.7071; with shrink 1: 1/2 and 1/2.4142.
    scores = ItemKNN(6, shrink=0.0).fit(TRAIN).score(seqs([[5, 3]]))
    np.testing.assert_allclose(scores, [[1.0, 1 / math.sqrt(2), 0, 0, 0, 0]], rtol=1e-6)
    shrunk = ItemKNN(6, shrink=1.0).fit(TRAIN).score(seqs([[3]]))
    np.testing.assert_allclose(shrunk[0, :2], [0.5, 1 / (math.sqrt(2) + 1)], rtol=1e-6)
    with pytest.raises(InputError, match="shrink"):
        ItemKNN(6, shrink=-1.0)


def test_sequential_rules():
    # steps 2, weight 1/d. A = 1 2 3: 1->2 (1), 2->3 (1), 1->3 (1/2); B = 2 4: 2->4 (1).
    rules = SequentialRules(6, rule_steps=2, rule_weighting="div").fit(TRAIN)
    np.testing.assert_allclose(rules.score(seqs([[1]])), [[0, 1, 0.5, 0, 0, 0]])
    np.testing.assert_allclose(rules.score(seqs([[6, 2]])), [[0, 0, 1, 1, 0, 0]])
    # steps 1 drops the distance-2 rule; `same` weighs every distance 1.
    np.testing.assert_allclose(SequentialRules(6, 1).fit(TRAIN).score(seqs([[1]])), [[0, 1, 0, 0, 0, 0]])
    np.testing.assert_allclose(SequentialRules(6, 2, "same").fit(TRAIN).score(seqs([[1]])), [[0, 1, 1, 0, 0, 0]])


def test_sknn_cosine_votes():
    # Current [2, 3]: overlap with A = {2, 3}: 2 / sqrt(2 * 3) = 0.8165; with B = {2}: 1 / sqrt(2 * 2) = 0.5; C: 0.
    # Item scores: sum of the similarities of the neighbours holding it.
    a, b = 2 / math.sqrt(6), 0.5
    scores = SessionKNN(6, "sknn", neighbours=2, sample_size=0).fit(TRAIN).score(seqs([[2, 3]]))
    np.testing.assert_allclose(scores, [[a, a + b, a, b, 0, 0]], rtol=1e-6)
    # k = 1 keeps A only.
    np.testing.assert_allclose(SessionKNN(6, "sknn", neighbours=1, sample_size=0).fit(TRAIN).score(seqs([[2, 3]])),
                               [[a, a, a, 0, 0, 0]], rtol=1e-6)
    # sample_size 1: only the most recent session sharing an item (B, the later one) is a candidate.
    np.testing.assert_allclose(SessionKNN(6, "sknn", neighbours=2, sample_size=1).fit(TRAIN).score(seqs([[2, 3]])),
                               [[0, b, 0, b, 0, 0]], rtol=1e-6)


def test_vsknn_weights_recent_clicks_and_idf():
    # Current [3, 4] (l = 2): weights 1/(l - p + 1): item 3 -> 1/2, item 4 -> 1.
    # A holds 3: sim = 0.5 / sqrt(2 * 3); B holds 4: sim = 1 / sqrt(2 * 2) = 0.5.
    a, b = 0.5 / math.sqrt(6), 0.5
    scores = SessionKNN(6, "vsknn", neighbours=5, sample_size=0).fit(TRAIN).score(seqs([[3, 4]]))
    np.testing.assert_allclose(scores, [[a, a + b, a, b, 0, 0]], rtol=1e-6)
    # idf_lambda 1 multiplies item i by log(3 sessions / sessions holding i): item 2 by log(3/2), the others log 3.
    idf = SessionKNN(6, "vsknn", neighbours=5, sample_size=0, idf_lambda=1.0).fit(TRAIN).score(seqs([[3, 4]]))
    np.testing.assert_allclose(idf, [[a * math.log(3), (a + b) * math.log(1.5), a * math.log(3), b * math.log(3),
                                      0, 0]], rtol=1e-5)


def test_stan_decays_with_distance_to_the_match():
    # One training session N = 1 2 3 4; current [7, 3] (l = 2). The match is item 3 (position 3 in N).
    # lambda1 = 1: w1(3) = exp(0) = 1 -> sim = 1 / sqrt(2 * 4); lambda3 = 1: w3(i) = exp(-|p_i - 3|).
    train = seqs([[1, 2, 3, 4], [5, 6]])
    sim = 1 / math.sqrt(8)
    stan = SessionKNN(7, "stan", neighbours=5, sample_size=0, position_lambda=1.0, match_lambda=1.0).fit(train)
    expected = [sim * math.exp(-2), sim * math.exp(-1), sim, sim * math.exp(-1), 0, 0, 0]
    np.testing.assert_allclose(stan.score(seqs([[7, 3]])), [expected], rtol=1e-5)
    # lambda2: the older session (N, 1 of 2 sessions back -> age 1/2) votes exp(-0.5 / 0.5) = e^-1 as much.
    old = SessionKNN(7, "stan", 5, 0, position_lambda=1.0, recency_lambda=0.5, match_lambda=1.0).fit(train)
    np.testing.assert_allclose(old.score(seqs([[7, 3]])), [np.array(expected) * math.exp(-1)], rtol=1e-5)
    # Without lambda3 (0) every item of N gets the whole vote (as SKNN, with w1 in the similarity).
    flat = SessionKNN(7, "stan", 5, 0, position_lambda=1.0, match_lambda=0.0).fit(train).score(seqs([[7, 3]]))
    np.testing.assert_allclose(flat, [[sim] * 4 + [0, 0, 0]], rtol=1e-5)


def test_vstan_is_stan_with_idf():
    stan = SessionKNN(6, "stan", 5, 0).fit(TRAIN).score(seqs([[2, 3]]))
    vstan = SessionKNN(6, "vstan", 5, 0, idf_lambda=1.0).fit(TRAIN).score(seqs([[2, 3]]))
    idf = np.log(3 / np.array([1, 2, 1, 1, 1, 1]))
    np.testing.assert_allclose(vstan, stan * idf, rtol=1e-5)


def test_batched_scores_equal_one_by_one():
    splits = load_splits(DataConfig(synthetic_num_items=60, synthetic_num_sessions=400))
    train = Sequences.of_sessions(splits.train)
    prefixes = splits.test.take(np.arange(40))
    for name in ("sknn", "vsknn", "stan", "vstan", "sr", "item_knn", "spop"):
        method = make_baseline(name, splits.num_items, BaselineConfig(neighbours=20, sample_size=50,
                                                                      idf_lambda=0.5)).fit(train)
        together = method.score(Sequences.of_prefixes(prefixes))
        alone = np.concatenate([method.score(Sequences.of_prefixes(prefixes.take([i]))) for i in range(40)])
        np.testing.assert_allclose(together, alone, rtol=1e-5, err_msg=name)


def test_ranks_count_ties_against_the_target():
    scores = np.array([[0.5, 0.0, 0.0, 0.2], [0.5, 0.0, 0.0, 0.2]], np.float32)
    # Label 2 (column 1) ties with two other zeros: rank 1 + 3 items scoring >= 0 besides it = 4.
    np.testing.assert_array_equal(numpy_target_ranks(scores, np.array([2, 1])), [4, 1])
    sums = numpy_rank_sums(np.array([4, 1, 30]), cutoffs=(20,))
    assert sums == {"count": 3.0, "hr@20": 2.0, "mrr@20": 1.25}


def test_fit_baseline_writes_a_run_directory_and_does_not_refit(tmp_path):
    from tagnn_tf.launcher import train

    config = ExperimentConfig(model=ModelConfig(name="sr"),
                              data=DataConfig(synthetic_num_items=80, synthetic_num_sessions=600))
    run = str(tmp_path / "sr")
    result = train(config, run, log=lambda *_: None)  # the trainer's entry point dispatches
    for name in (run_directory.CONFIG, run_directory.METRICS, run_directory.RUN_LOG, run_directory.RUN_INFO,
                 run_directory.ITEMS, run_directory.TEST_RANKS):
        assert os.path.exists(os.path.join(run, name)), name
    assert result["selected_epoch"] == 1 and 0 < result["test"]["hr@20"] <= 100
    ranks = run_directory.read_test_ranks(run)
    assert len(ranks) == len(load_splits(config.data).test)
    assert 100 * np.mean(ranks <= 20) == pytest.approx(result["test"]["hr@20"], abs=1e-3)
    # A second call returns the finished result without fitting; another config in the folder is refused.
    lines = []
    assert fit_baseline(config, run, log=lines.append) == json.load(open(os.path.join(run, "result.json")))
    assert lines == [f"{run}: already finished"]
    other = ExperimentConfig(model=ModelConfig(name="pop"), data=config.data)
    with pytest.raises(InputError, match="another config"):
        fit_baseline(other, run)
    from tagnn_tf.launcher import evaluate_run
    assert evaluate_run(run)["test"] == result["test"]  # refitted: deterministic
    from tagnn_tf.serving.savedmodel_export import export_savedmodel
    with pytest.raises(InputError, match="no Keras model to load or export"):
        export_savedmodel(run, str(tmp_path / "exports"), max_session_length=5)


def test_unknown_settings_are_refused():
    with pytest.raises(InputError, match="method"):
        SessionKNN(5, "knn")
    with pytest.raises(InputError, match="rule_weighting"):
        BaselineConfig(rule_weighting="log")
    with pytest.raises(InputError, match="model"):
        ModelConfig(name="gru")
