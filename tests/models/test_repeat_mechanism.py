"""The repeat mechanisms (`--repeat_mechanism`): the mixture's algebra, its inputs, sampled training, rerank."""

import numpy as np
import pytest
import tensorflow as tf

from tagnn_tf import item_ids
from tagnn_tf.model_registry import NEURAL_MODELS
from tagnn_tf.config import ExperimentConfig, ModelConfig, TrainConfig
from tagnn_tf.data import pipeline
from tagnn_tf.layers.session_graph import densify
from tagnn_tf.data.sessions import SessionExamples
from tagnn_tf.errors import InputError
from tagnn_tf.layers.repeat_scores import (PADDING_LOGIT, REPEAT_FLOORS, RepeatExplore, floored_node_logits,
                                           floor_scorer, history_features, mixture_log_scores, node_features,
                                           scatter_to_columns)
from tagnn_tf.models import build_model
from tagnn_tf.training.sampled_softmax import CandidateSampler, repeat_explore_loss
from tagnn_tf.training.trainer import model_preprocessor

NUM_ITEMS = 30
SESSIONS = [[1, 2, 1, 3], [5, 6], [9]]


def _features(model, sessions, labels):
    examples = SessionExamples.from_lists(sessions, labels)
    return next(iter(pipeline.eval_dataset(examples, len(labels), preprocessor=model_preprocessor(model))))


def _plain_and_repeat(name, repeat_floor="none"):
    """A plain model and a repeat_explore one whose shared weights are the plain one's."""
    plain = build_model(ModelConfig(name=name), NUM_ITEMS, seed=3)
    repeat = build_model(ModelConfig(name=name, repeat_mechanism="repeat_explore", repeat_floor=repeat_floor),
                         NUM_ITEMS, seed=3)
    def inner(variable):  # the path below the model's own (auto-numbered) name
        return variable.path.split("/", 1)[1]

    shared = {inner(v): v for v in plain.weights}
    copied = [v.assign(shared[inner(v)]) for v in repeat.weights if inner(v) in shared]
    assert len(copied) == len(shared) == len([v for v in repeat.weights if "repeat_explore" not in v.path])
    return plain, repeat


@pytest.mark.parametrize("name", NEURAL_MODELS)
def test_outside_the_session_the_mixture_keeps_the_plain_models_order(name):
    # log P - the plain model's log-softmax is one constant per session over the items outside it.
    plain, repeat = _plain_and_repeat(name)
    repeat.repeat.gate_bias.assign(0.7)
    features, _ = _features(plain, SESSIONS, [4, 4, 4])
    shift = repeat(features, training=False).numpy() - tf.nn.log_softmax(plain(features, training=False)).numpy()
    items = features["items"].numpy()
    for b in range(len(items)):
        outside = np.setdiff1d(np.arange(NUM_ITEMS), item_ids.id_to_column(items[b][items[b] > 0]))
        np.testing.assert_allclose(shift[b, outside], shift[b, outside[0]], atol=1e-5)


def test_the_plain_model_is_the_mixture_with_its_own_session_share_as_the_gate():
    # With sigmoid(g) = softmax(z)'s mass on the session's items and ρ_u = z_u, log P = log softmax(z).
    z = np.random.default_rng(0).normal(size=(2, 6)).astype(np.float32)
    items = tf.constant([[2, 5, 0], [6, 0, 0]])  # columns 1, 4 | 5
    probs = tf.nn.softmax(z).numpy()
    share = np.array([probs[0, [1, 4]].sum(), probs[1, 5]])
    gate = tf.constant(np.log(share / (1 - share)), tf.float32)
    node_logits = tf.constant([[z[0, 1], z[0, 4], PADDING_LOGIT], [z[1, 5], PADDING_LOGIT, PADDING_LOGIT]])
    np.testing.assert_allclose(mixture_log_scores(tf.constant(z), items, gate, node_logits).numpy(),
                               tf.nn.log_softmax(z).numpy(), atol=1e-5)


def test_the_mixture_is_a_distribution_with_the_gate_on_the_session_items():
    plain, repeat = _plain_and_repeat("tagnn")
    repeat.repeat.gate_bias.assign(1.0)
    features, _ = _features(plain, SESSIONS, [4, 4, 4])
    probs = np.exp(repeat(features, training=False).numpy())
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    nodes, counts = repeat._nodes(features)
    session = repeat.readout(nodes, counts, features["last_node"])
    gate, node_logits = repeat.repeat_scores(features, nodes, session)
    p = tf.sigmoid(gate).numpy()
    explore = tf.nn.softmax(plain(features, training=False)).numpy()
    items = features["items"].numpy()
    for b in range(len(items)):
        inside = item_ids.id_to_column(items[b][items[b] > 0])
        outside = np.setdiff1d(np.arange(NUM_ITEMS), inside)
        # Repeat mode holds sigmoid(g), as softmax(ρ) over the session's nodes; explore mode the rest, as
        # the plain model's softmax restricted to the items outside the session.
        np.testing.assert_allclose(probs[b, inside].sum(), p[b], rtol=1e-4)
        np.testing.assert_allclose(probs[b, inside], p[b] * tf.nn.softmax(node_logits[b][items[b] > 0]).numpy(),
                                   rtol=1e-4)
        np.testing.assert_allclose(probs[b, outside], (1 - p[b]) * explore[b, outside] / explore[b, outside].sum(),
                                   rtol=1e-4)
    # Padding nodes take no part in the softmax over nodes.
    assert (node_logits.numpy()[items == 0] == PADDING_LOGIT).all()


def test_padding_does_not_change_a_sessions_scores():
    # Session [9] alone (one node) and beside a 3-node session (two padding nodes).
    _, repeat = _plain_and_repeat("tagnn")
    repeat.repeat.gate_bias.assign(0.5)
    alone = repeat(densify(tf.ragged.constant([[9]])), training=False).numpy()
    padded = repeat(densify(tf.ragged.constant([[9], [1, 2, 1, 3]])), training=False).numpy()
    np.testing.assert_allclose(padded[:1], alone, atol=1e-5)


def test_mixture_log_scores_against_numpy():
    # N = 4, one session with nodes [item 2, item 4] (columns 1 and 3) and a padding node.
    # z = [1, 2, 0, -1]; g = 0 (p = 1/2); ρ = [0, log 3] -> P_repeat = [1/4, 3/4] on columns 1, 3;
    # explore mode: columns 0, 2 with softmax([1, 0]) = [e / (e + 1), 1 / (e + 1)].
    z = np.array([[1.0, 2.0, 0.0, -1.0]], np.float32)
    e = np.e
    expected = np.array([[0.5 * e / (e + 1), 0.5 * 0.25, 0.5 / (e + 1), 0.5 * 0.75]])
    out = mixture_log_scores(tf.constant(z), tf.constant([[2, 4, 0]]), tf.constant([0.0]),
                             tf.constant([[0.0, np.log(3.0), PADDING_LOGIT]], tf.float32))
    np.testing.assert_allclose(np.exp(out.numpy()), expected, rtol=1e-5)


def test_mixture_log_scores_at_column_0_beside_padding_and_for_a_row_without_nodes():
    # N = 3, z = 0 everywhere. Row 0: nodes [item 1, item 3] (columns 0 and 2) and a padding node;
    # g = log 3 (p = 3/4), ρ = [log 2, 0] -> P_repeat = [2/3, 1/3]: columns 0, 2 = 3/4 [2/3, 1/3] = [1/2, 1/4],
    # column 1 is the only item outside: 1/4. Row 1 has no real node: explore mode over all three,
    # 1/3 each, times sigmoid(-g) = 1/4 (a row the served model reports as empty).
    out = mixture_log_scores(tf.zeros((2, 3)), tf.constant([[1, 3, 0], [0, 0, 0]]), tf.constant([np.log(3.0)] * 2, tf.float32),
                             tf.constant([[np.log(2.0), 0.0, PADDING_LOGIT], [PADDING_LOGIT] * 3], tf.float32))
    np.testing.assert_allclose(np.exp(out.numpy()), [[0.5, 0.25, 0.25], [1 / 12] * 3], rtol=1e-5)


def test_the_floor_by_hand():
    # Nodes with clicks c = [1, 3] (n = 4) and ρ = [0, log 3]: softmax(ρ) = [1/4, 3/4] and c / n = [1/4, 3/4],
    # so any floor keeps them; ρ = [log 3, 0] (softmax [3/4, 1/4]) with e = 0.5 gives
    # 0.5 [3/4, 1/4] + 0.5 [1/4, 3/4] = [1/2, 1/2]. Padding stays PADDING_LOGIT.
    counts = tf.constant([[1.0, 3.0, 0.0]])
    for logits, e, expected in (([0.0, np.log(3.0)], 0.3, [0.25, 0.75]), ([np.log(3.0), 0.0], 0.5, [0.5, 0.5])):
        out = floored_node_logits(tf.constant([logits + [PADDING_LOGIT]], tf.float32), counts, e).numpy()
        np.testing.assert_allclose(np.exp(out[0, :2]), expected, rtol=1e-5)
        assert out[0, 2] == PADDING_LOGIT
    # Floor 0: the logits themselves, unnormalised.
    raw = tf.constant([[5.0, 1.0, PADDING_LOGIT]])
    assert (floored_node_logits(raw, counts, 0.0).numpy() == raw.numpy()).all()


@pytest.mark.parametrize("name", ["tagnn", "narm"])
def test_the_models_scores_with_a_floor_equal_the_floor_applied_to_its_floor_0_scores(name):
    # `floor_scorer` (the trainer's pick, one forward pass) and the model's own floor are one formula; with
    # floor 0 the model's scores are those of a model without the floor; outside the session nothing moves.
    _, without = _plain_and_repeat(name)
    _, model = _plain_and_repeat(name, repeat_floor="validated")
    model.repeat.gate_bias.assign(0.4)
    for mine, theirs in zip(without.weights, model.weights, strict=True):  # the same weights, floor 0
        mine.assign(theirs)
    features, _ = _features(model, SESSIONS, [4, 4, 4])
    assert float(model.repeat.floor.numpy()) == 0.0 and not model.repeat.floor.trainable
    zero = model(features, training=False)
    scored = floor_scorer(zero, features["items"], features["node_counts"])
    np.testing.assert_array_equal(zero.numpy(), without(features, training=False).numpy())
    # Without `repeat_floor="validated"` the scores ignore the weight.
    without.repeat.floor.assign(0.3)
    np.testing.assert_array_equal(zero.numpy(), without(features, training=False).numpy())
    for floor in REPEAT_FLOORS[1:]:
        model.repeat.floor.assign(floor)
        with_floor = model(features, training=False).numpy()
        np.testing.assert_allclose(with_floor, scored(floor).numpy(), atol=2e-5)
        np.testing.assert_allclose(np.exp(with_floor).sum(axis=1), 1.0, rtol=1e-5)
        items = features["items"].numpy()
        for b in range(len(items)):
            inside = item_ids.id_to_column(items[b][items[b] > 0])
            outside = np.setdiff1d(np.arange(NUM_ITEMS), inside)
            np.testing.assert_array_equal(with_floor[b, outside], zero.numpy()[b, outside])
            # Every session item keeps at least sigmoid(g) e c_u / n.
            clicks = features["node_counts"].numpy()[b][items[b] > 0]
            gate = np.exp(zero.numpy()[b, inside]).sum()
            assert (np.exp(with_floor[b, inside]) >= gate * floor * clicks / clicks.sum() * (1 - 1e-5)).all()
    assert scored(0.0) is zero
    # The rerank signature's scores carry the floor too.
    model.repeat.floor.assign(0.3)
    columns, scores = model.rerank(features, NUM_ITEMS) if name == "tagnn" else (None, None)
    if columns is not None:
        exact = model(features, training=False).numpy()
        np.testing.assert_allclose(scores.numpy()[:, :NUM_ITEMS],
                                   np.take_along_axis(exact, columns.numpy()[:, :NUM_ITEMS], 1), atol=1e-5)


def test_a_model_saved_before_the_floor_existed_loads_with_floor_0(tmp_path):
    # The floor is the layer's last variable: a store without it (an older .keras) fills the others.
    layer = RepeatExplore(4, seed=1)
    layer.build((None, None, 4), (None, 4))
    values = [np.full(v.shape, i + 1.0, np.float32) for i, v in enumerate(layer.weights)]
    old_store = {str(i): value for i, value in enumerate(values[:-1])}
    fresh = RepeatExplore(4, seed=2)
    fresh.build((None, None, 4), (None, 4))
    fresh.floor.assign(0.3)
    fresh.load_own_variables(old_store)
    for weight, value in zip(fresh.weights[:-1], values[:-1]):
        np.testing.assert_array_equal(weight.numpy(), value)
    assert fresh.weights[-1] is fresh.floor and float(fresh.floor.numpy()) == 0.0
    with pytest.raises(ValueError):
        fresh.load_own_variables({"0": values[0]})


def test_node_features_and_scatter_by_hand():
    # Session [5, 7, 5, 9]: nodes 5, 7, 9 with counts 2, 1, 1, clicks since their last click 1, 2, 0.
    d = densify(tf.ragged.constant([[5, 7, 5, 9], [3]]))
    phi = node_features(d["node_counts"], d["node_recency"], d["last_node"]).numpy()
    np.testing.assert_allclose(phi[0], [[np.log(2), np.log(2), 0], [0, np.log(3), 0], [0, 0, 1]], atol=1e-6)
    np.testing.assert_allclose(phi[1], [[0, 0, 1], [0, 0, 0], [0, 0, 0]])
    scattered = scatter_to_columns(tf.constant([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]]), d["items"], 10).numpy()
    expected = np.zeros((2, 10))
    expected[0, [4, 6, 8]] = [1, 2, 3]  # items 5, 7, 9 -> columns 4, 6, 8
    expected[1, 2] = 4  # item 3
    np.testing.assert_array_equal(scattered, expected)


def test_history_features_by_hand():
    # [5, 7, 5, 9]: 4 clicks on 3 items -> [log 4, 1/4]; [3]: [log 1, 0]; [2, 2, 2]: [log 3, 2/3]; a padded row
    # of no clicks: [0, 0].
    d = densify(tf.ragged.constant([[5, 7, 5, 9], [3], [2, 2, 2]]))
    counts = tf.concat([tf.cast(d["node_counts"], tf.float32), tf.zeros((1, 3))], axis=0)
    np.testing.assert_allclose(history_features(counts).numpy(),
                               [[np.log(4), 0.25], [0, 0], [np.log(3), 2 / 3], [0, 0]], atol=1e-6)


@pytest.mark.parametrize("name", ["tagnn", "gru4rec"])
def test_the_history_gate_adds_its_weights_times_the_history_and_starts_as_the_session_gate(name):
    session_gate = build_model(ModelConfig(name=name, repeat_mechanism="repeat_explore"), NUM_ITEMS, seed=3)
    history_gate = build_model(ModelConfig(name=name, repeat_mechanism="repeat_explore", repeat_gate="history"),
                               NUM_ITEMS, seed=3)
    shared = {v.path.split("/", 1)[1]: v for v in session_gate.weights}  # below the model's own name
    others = [w for w in history_gate.weights if w.path.split("/", 1)[1] not in shared]
    assert [w.path.split("/", 1)[1] for w in others] == ["repeat_explore/history_weights"]
    for w in history_gate.weights:  # every other weight as the session gate's
        if w.path.split("/", 1)[1] in shared:
            w.assign(shared[w.path.split("/", 1)[1]])
    features, labels = _features(history_gate, SESSIONS, [2, 5, 4])  # batched shortest first

    def gates(model):
        return model.explore_and_repeat(features, model.candidate_table_t())[1]

    (g0, logits0), (g1, logits1) = gates(session_gate), gates(history_gate)
    np.testing.assert_allclose(g1.numpy(), g0.numpy(), atol=1e-6)  # w_r starts at 0
    # w_r = (0.5, 2): [1, 2, 1, 3] has 4 clicks on 3 items -> + 0.5 log 4 + 2 / 4; [5, 6] -> + 0.5 log 2;
    # [9] -> + 0. The repeat logits do not read the history.
    history_gate.repeat.history_weights.assign([0.5, 2.0])
    g2, logits2 = gates(history_gate)
    added = {2: 0.5 * np.log(4) + 0.5, 5: 0.5 * np.log(2), 4: 0.0}  # by each session's label
    np.testing.assert_allclose(g2.numpy() - g0.numpy(), [added[int(y)] for y in labels.numpy()], atol=1e-5)
    np.testing.assert_allclose(logits2.numpy(), logits0.numpy(), atol=1e-6)


class WholeCatalogue(CandidateSampler):
    """Negatives = every item, in column order (the sampled softmax's exact limit)."""

    def negatives(self, seed):
        return tf.range(self.num_items, dtype=tf.int32)


@pytest.mark.parametrize("name,item_norm_scale", [("tagnn", 0.0), ("tagnn", 8.0), ("narm", 0.0), ("fpmc", 0.0)])
@pytest.mark.parametrize("labels", [[1], [4, 4, 4], [1, 1, 1]])
def test_sampled_loss_equals_the_full_loss_when_the_negatives_are_the_catalogue(name, item_norm_scale, labels):
    # Label 1 is in session [1, 2, 1, 3] (a repeat), 4 in none. The explore part is the sampled softmax's
    # (equal to the full one here, tests/training/test_sampled_softmax.py), the gate and repeat parts exact.
    # With `item_norm_scale` the sampled candidates are normalised row by row (`candidate_vectors`).
    extra = {"item_norm_scale": item_norm_scale} if item_norm_scale else {}
    model = build_model(ModelConfig(name=name, repeat_mechanism="repeat_explore", **extra), NUM_ITEMS, seed=3)
    model.repeat.gate_bias.assign(0.3)
    features, label_ids = _features(model, SESSIONS[:len(labels)], labels)
    sampler = WholeCatalogue(np.zeros(NUM_ITEMS), NUM_ITEMS, "uniform", len(labels))
    columns = item_ids.id_to_column(label_ids)

    def loss(sampler):
        return repeat_explore_loss(model, features, label_ids, sampler, tf.constant([0, 0]), training=False).numpy()

    # By hand: the explore cross-entropy + the gate's binary cross-entropy of "label in the session"
    # + the cross-entropy over the session's nodes for a repeat label.
    explore, (gate, node_logits) = model.explore_and_repeat(features, model.candidate_table_t(), training=False)
    expected = tf.nn.sparse_softmax_cross_entropy_with_logits(columns, explore).numpy()
    p = tf.sigmoid(gate).numpy()
    log_nodes = tf.nn.log_softmax(node_logits).numpy()
    items = features["items"].numpy()
    for b, label in enumerate(label_ids.numpy()):
        node = np.flatnonzero(items[b] == label)
        expected[b] += -np.log(p[b]) - log_nodes[b, node[0]] if node.size else -np.log(1 - p[b])
    np.testing.assert_allclose(loss(None), expected, rtol=1e-5)
    np.testing.assert_allclose(loss(sampler), expected, rtol=1e-5)


def test_the_repeat_layer_passes_no_gradient_to_the_encoder():
    # The explore part trains as the plain model: the repeat logits and gate have zero gradient with
    # respect to the embeddings and the gated graph.
    model = build_model(ModelConfig(repeat_mechanism="repeat_explore"), NUM_ITEMS, seed=3)
    features, _ = _features(model, SESSIONS, [4, 4, 4])
    with tf.GradientTape() as tape:
        nodes, counts = model._nodes(features)
        gate, node_logits = model.repeat_scores(features, nodes, model.readout(nodes, counts, features["last_node"]))
        total = tf.reduce_sum(gate) + tf.reduce_sum(tf.where(node_logits > PADDING_LOGIT, node_logits, 0.0))
    shared = [v for v in model.trainable_variables if "repeat_explore" not in v.path]
    repeat = [v for v in model.trainable_variables if "repeat_explore" in v.path]
    grads = tape.gradient(total, shared + repeat)
    assert all(g is None for g in grads[:len(shared)])
    assert any(g is not None and np.abs(tf.convert_to_tensor(g).numpy()).sum() > 0 for g in grads[len(shared):])


def test_rerank_with_k_equal_n_gives_the_exact_scores_and_always_reranks_the_session_items():
    _, model = _plain_and_repeat("tagnn")
    model.repeat.gate_bias.assign(0.5)
    features, _ = _features(model, SESSIONS, [4, 4, 4])
    exact = model(features, training=False).numpy()
    columns, scores = model.rerank(features, NUM_ITEMS)
    columns, scores = columns.numpy(), scores.numpy()
    # The first N candidates are every item with its exact score; the U appended session items are
    # copies (or padding) and score PADDING_LOGIT.
    np.testing.assert_allclose(scores[:, :NUM_ITEMS], np.take_along_axis(exact, columns[:, :NUM_ITEMS], 1),
                               atol=1e-5)
    assert (scores[:, NUM_ITEMS:] == PADDING_LOGIT).all()
    # K = 2: the session's items are candidates even when the base score would not retrieve them.
    columns, scores = model.rerank(features, 2)
    items = features["items"].numpy()
    for b in range(len(items)):
        for item in items[b][items[b] > 0]:
            assert item_ids.id_to_column(item) in columns[b]
            slot = int(np.flatnonzero(columns[b] == item_ids.id_to_column(item))[0])
            assert scores[b, slot] > PADDING_LOGIT


def test_repeat_explore_layer_refuses_bad_arguments_and_round_trips():
    with pytest.raises(ValueError, match="hidden_size"):
        RepeatExplore(0)
    with pytest.raises(ValueError, match="gate"):
        RepeatExplore(8, gate="clicks")
    for gate in ("session", "history"):
        layer = RepeatExplore(8, seed=1, gate=gate)
        assert RepeatExplore.from_config(layer.get_config()).get_config() == layer.get_config()


@pytest.mark.parametrize("overrides, fragment", [
    ({"model": {"name": "spop", "repeat_mechanism": "boost"}}, "neural models"),
    ({"model": {"repeat_mechanism": "repeat_explore", "padding": "official"}}, "padding='masked'"),
    ({"model": {"name": "bpr_mf", "repeat_mechanism": "repeat_explore"}, "train": {"loss": "bpr"}},
     "cross_entropy"),
    ({"model": {"repeat_mechanism": "again"}}, "repeat_mechanism"),
    ({"model": {"repeat_mechanism": "boost", "repeat_gate": "history"}}, "repeat_gate"),
    ({"model": {"repeat_mechanism": "repeat_explore", "repeat_gate": "recent"}}, "repeat_gate"),
    ({"model": {"repeat_mechanism": "boost", "repeat_floor": "validated"}}, "repeat_floor"),
    ({"model": {"repeat_mechanism": "repeat_explore", "repeat_floor": "0.3"}}, "repeat_floor"),
])
def test_config_refuses_a_repeat_mechanism_where_it_does_not_apply(overrides, fragment):
    with pytest.raises(InputError, match=fragment):
        ExperimentConfig.from_dict(overrides)


def test_sampled_softmax_with_bpr_is_an_input_error():
    with pytest.raises(InputError, match="cross_entropy"):
        TrainConfig(train_candidates="sampled", loss="bpr")


def test_cluster_rerank_keeps_the_session_items_and_stays_finite():
    # Cluster retrieval (approximate) with a probe of one cluster out of 6: the session's items are
    # appended whether their cluster was probed or not, and every real candidate scores a finite log P.
    from tagnn_tf.retrieval.item_clusters import kmeans_clusters

    _, model = _plain_and_repeat("tagnn")
    features, _ = _features(model, SESSIONS, [4, 4, 4])
    centroids, members = kmeans_clusters(np.array(item_ids.candidate_rows(model.candidate_embeddings())), 6, seed=1)
    columns, scores = model.rerank(features, 3, clusters=(tf.constant(centroids.T), tf.constant(members), 1))
    columns, scores = columns.numpy(), scores.numpy()
    items = features["items"].numpy()
    assert np.isfinite(scores).all()
    for b in range(len(items)):
        for item in items[b][items[b] > 0]:
            slots = np.flatnonzero(columns[b] == item_ids.id_to_column(item))
            assert slots.size and scores[b, slots].max() > PADDING_LOGIT
