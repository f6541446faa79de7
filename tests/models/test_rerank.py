"""Retrieve-then-rerank (`TAGNN.rerank`, the `rerank_candidates` recommender) against exact scoring."""

import numpy as np
import pytest
import tensorflow as tf

from tagnn_tf.config import ModelConfig
from tagnn_tf.errors import InputError
from tagnn_tf.layers import SessionPreprocessor
from tagnn_tf.models import build_model
from tagnn_tf.serving import SessionRecommender

NUM_ITEMS = 60
REQUEST = tf.constant([[3, 4, 3, 7, 0], [5, 0, 0, 0, 0], [9, 8, 7, 6, 5], [60, 1, 60, 1, 2]], tf.int64)


def _features():
    return SessionPreprocessor(NUM_ITEMS, 10)(REQUEST)


@pytest.mark.parametrize("model_config", [ModelConfig(readout="paper"), ModelConfig(readout="official"),
                                          ModelConfig(variant="local_att"), ModelConfig(gnn_steps=2),
                                          ModelConfig(item_norm_scale=8.0)],
                         ids=["paper", "official", "local_att", "two_steps", "item_norm"])
def test_rerank_of_every_item_gives_the_exact_scores(model_config):
    model = build_model(model_config, NUM_ITEMS, seed=4)
    features = _features()
    exact = model(features, scoring_mode="serve").numpy()
    columns, scores = (t.numpy() for t in model.rerank(features, NUM_ITEMS))
    assert columns.shape == scores.shape == (4, NUM_ITEMS)
    # Every column once per session, each with its exact score.
    np.testing.assert_array_equal(np.sort(columns, axis=1), np.tile(np.arange(NUM_ITEMS), (4, 1)))
    np.testing.assert_allclose(scores, np.take_along_axis(exact, columns, axis=1), rtol=1e-5, atol=1e-6)


def test_rerank_keeps_the_top_k_by_the_candidate_independent_part():
    # The K retrieved columns are the top K of session . v_t (eq. 10-11 without the target term).
    model = build_model(ModelConfig(readout="paper"), NUM_ITEMS, seed=4)
    features = _features()
    nodes = model.gnn(model.embedding(features["items"]), features["adj_in"], features["adj_out"])
    session = model.readout(nodes, tf.cast(features["node_counts"], tf.float32), features["last_node"])
    base = (session @ model.candidate_table_t()).numpy()
    columns, _ = model.rerank(features, 7)
    np.testing.assert_array_equal(columns.numpy(), np.argsort(-base, axis=1, kind="stable")[:, :7])


def test_recommender_rerank_top_k_equals_exact_top_k_when_k_is_n():
    model = build_model(ModelConfig(readout="paper"), NUM_ITEMS, seed=4)
    pre = SessionPreprocessor(NUM_ITEMS, 10)
    exact = SessionRecommender(model, pre, k=10)(REQUEST)
    rerank = SessionRecommender(model, pre, k=10, rerank_candidates=NUM_ITEMS)(REQUEST, with_scores=False)
    assert "scores" not in rerank
    np.testing.assert_array_equal(rerank["top_k_ids"].numpy(), exact["top_k_ids"].numpy())
    np.testing.assert_allclose(rerank["top_k_scores"].numpy(), exact["top_k_scores"].numpy(), rtol=1e-5)


def test_rerank_arguments_are_checked():
    model = build_model(ModelConfig(), NUM_ITEMS, seed=4)
    pre = SessionPreprocessor(NUM_ITEMS, 10)
    with pytest.raises(InputError, match="rerank_candidates"):
        SessionRecommender(model, pre, k=20, rerank_candidates=10)  # k > K
    with pytest.raises(InputError, match="rerank_candidates"):
        SessionRecommender(model, pre, k=5, rerank_candidates=NUM_ITEMS + 1)
    with pytest.raises(InputError, match="rerank_candidates"):
        SessionRecommender(model, pre, k=5, scoring_mode="tflite", rerank_candidates=10)
    with pytest.raises(InputError, match="with_scores=False"):
        SessionRecommender(model, pre, k=5, rerank_candidates=10)(REQUEST)
    with pytest.raises(ValueError, match="num_candidates"):
        model.rerank(_features(), 0)
    gru = build_model(ModelConfig(name="gru4rec"), NUM_ITEMS, seed=4)
    with pytest.raises(InputError, match="TAGNN-family"):
        SessionRecommender(gru, SessionPreprocessor(NUM_ITEMS, 10, with_click_alias=True), k=5,
                           rerank_candidates=10)


def test_kmeans_members_list_every_column_once():
    from tagnn_tf.retrieval.item_clusters import kmeans_clusters

    rng = np.random.default_rng(0)
    # Three well separated blobs of 10 points: 3 clusters recover them.
    vectors = np.concatenate([rng.normal(loc, 0.01, size=(10, 4)) for loc in (-5.0, 0.0, 5.0)])
    centroids, members = kmeans_clusters(vectors, 3, seed=1)
    assert centroids.shape == (3, 4) and members.shape == (3, 10)
    assert sorted(members.ravel().tolist()) == list(range(30))
    assert sorted(sorted(row.tolist()) for row in members) == [list(range(0, 10)), list(range(10, 20)),
                                                              list(range(20, 30))]
    _, uneven = kmeans_clusters(rng.normal(size=(50, 4)), 7, seed=1)
    real = uneven[uneven < 50]
    assert sorted(real.tolist()) == list(range(50)) and (uneven == 50).sum() == uneven.size - 50


@pytest.mark.parametrize("item_norm_scale", [0.0, 8.0])
def test_cluster_retrieval_probing_every_cluster_is_exact_retrieval(item_norm_scale):
    from tagnn_tf.retrieval.item_clusters import kmeans_clusters

    model = build_model(ModelConfig(readout="paper", item_norm_scale=item_norm_scale), NUM_ITEMS, seed=4)
    features = _features()
    centroids, members = kmeans_clusters(model.candidate_table_t().numpy().T, 6, seed=2)
    index = (tf.constant(centroids.T), tf.constant(members), 6)
    columns, scores = model.rerank(features, 12, clusters=index)
    exact_columns, exact_scores = model.rerank(features, 12)
    np.testing.assert_array_equal(columns.numpy(), exact_columns.numpy())
    np.testing.assert_allclose(scores.numpy(), exact_scores.numpy(), rtol=1e-5)
    # (With normalised vectors the retrieved members are scored with their normalised rows, `candidate_vectors`;
    # raw rows would change the scores above.) The check below reads the raw vectors by hand.
    if item_norm_scale:
        return
    # One cluster probed: every retrieved column is in that session's best cluster.
    columns, _ = model.rerank(features, 3, clusters=(tf.constant(centroids.T), tf.constant(members), 1))
    session_best = np.argmax(model.readout(
        model.gnn(model.embedding(features["items"]), features["adj_in"], features["adj_out"]),
        tf.cast(features["node_counts"], tf.float32), features["last_node"]).numpy() @ centroids.T, axis=1)
    for row, cluster in zip(columns.numpy(), session_best):
        assert set(row.tolist()) <= set(members[cluster].tolist())
