"""The Keras model equals the NumPy reference of the paper's equations."""

import numpy as np
import pytest
import tensorflow as tf

from tagnn_tf.config import ModelConfig
from tagnn_tf.layers.session_graph import densify
from tagnn_tf.models import build_model
from numpy_reference import scores, weights_of

NUM_ITEMS, HIDDEN = 60, 16
CASES = [
    ("tagnn", "paper", "none", 1), ("tagnn", "paper", "softmax", 1), ("tagnn", "official", "softmax", 1),
    ("tagnn", "official", "none", 2), ("local", "official", "softmax", 1), ("avg", "official", "softmax", 1),
    ("att", "official", "none", 1), ("att", "official", "softmax", 1), ("local_att", "paper", "none", 1),
    ("local_att", "official", "softmax", 3),
]


def _sessions(seed):
    rng = np.random.default_rng(seed)
    out = [[7], [3, 3], [5, 9, 5, 9, 5], [1, 2, 3, 2, 1, 60]]  # single click, self loop, repeats, extremes
    for _ in range(8):
        n = int(rng.integers(1, 12))
        out.append(rng.integers(1, 12 if rng.random() < 0.5 else NUM_ITEMS + 1, size=n).tolist())
    return out


def _model(variant, readout, global_attention, steps, seed=0, item_norm_scale=0.0):
    model = build_model(ModelConfig(hidden_size=HIDDEN, gnn_steps=steps, variant=variant, readout=readout,
                                    global_attention=global_attention, item_norm_scale=item_norm_scale),
                        NUM_ITEMS, seed=seed)
    # Larger weights than the default init so attention weights are far from uniform.
    for v in model.weights:
        v.assign(v * 3.0)
    return model


@pytest.mark.parametrize("variant,readout,global_attention,steps", CASES)
def test_matches_numpy_reference(variant, readout, global_attention, steps):
    model = _model(variant, readout, global_attention, steps)
    sessions = _sessions(seed=steps)
    got = model(densify(tf.ragged.constant(sessions, dtype=tf.int64))).numpy()
    assert got.shape == (len(sessions), NUM_ITEMS)
    w = weights_of(model)
    ref = np.stack([scores(s, w, variant, readout, global_attention, steps) for s in sessions])
    rel = np.max(np.abs(got - ref)) / np.max(np.abs(ref))
    assert rel < 1e-5, rel


@pytest.mark.parametrize("variant,readout,item_norm_scale", [
    ("tagnn", "official", 8.0), ("tagnn", "paper", 2.5), ("local_att", "official", 8.0)])
def test_normalised_item_vectors_match_numpy_reference(variant, readout, item_norm_scale):
    # `--item_norm_scale=c`: unit-length node inputs, candidates of length c (the reference's own arithmetic).
    model = _model(variant, readout, "softmax", 1, item_norm_scale=item_norm_scale)
    sessions = _sessions(seed=4)
    got = model(densify(tf.ragged.constant(sessions, dtype=tf.int64))).numpy()
    ref = np.stack([scores(s, weights_of(model), variant, readout, "softmax", 1, item_norm_scale=item_norm_scale)
                    for s in sessions])
    assert np.max(np.abs(got - ref)) / np.max(np.abs(ref)) < 1e-5
    # Every candidate vector has length c, and `candidate_vectors` gives the table's rows.
    table = model.candidate_embeddings().numpy()
    np.testing.assert_allclose(np.linalg.norm(table, axis=1), item_norm_scale, rtol=1e-5)
    ids = np.array([[3, 1], [60, 7]])
    np.testing.assert_allclose(model.candidate_vectors(ids).numpy(), table[ids], rtol=1e-6)


def test_every_weight_is_used_by_the_reference():
    # Guards the reference against silently ignoring a weight: perturbing any
    # weight of the full model changes the scores.
    model = _model("tagnn", "paper", "none", 1)
    inputs = densify(tf.ragged.constant(_sessions(0), dtype=tf.int64))
    base = model(inputs).numpy()
    for v in model.weights:
        old = v.numpy()
        v.assign(old + 0.5)
        assert np.max(np.abs(model(inputs).numpy() - base)) > 1e-4, v.path
        v.assign(old)


def _plain_segment_attention(logits, values, segment_ids, num_segments):
    # Straightforward segment softmax, differentiated by TF itself.
    shift = tf.stop_gradient(tf.math.unsorted_segment_max(logits, segment_ids, num_segments))
    exp = tf.exp(logits - tf.gather(shift, segment_ids))
    total = tf.math.unsorted_segment_sum(exp, segment_ids, num_segments)
    return tf.math.unsorted_segment_sum(exp * values, segment_ids, num_segments) / tf.maximum(total, 1e-30)


def test_segment_attention_gradient_matches_autodiff():
    from tagnn_tf.layers.target_attention import segment_attention

    rng = np.random.default_rng(0)
    # 6 sessions; session 2 and the last two have no nodes (zeros out, zero gradient).
    ids = tf.constant([0, 0, 0, 1, 3, 3], tf.int32)
    logits = tf.constant(rng.normal(size=(6, 7)) * 3, tf.float32)
    values = tf.constant(rng.normal(size=(6, 7)), tf.float32)
    upstream = tf.constant(rng.normal(size=(6, 7)), tf.float32)
    results = []
    for fn in (segment_attention, _plain_segment_attention):
        with tf.GradientTape() as tape:
            tape.watch([logits, values])
            out = fn(logits, values, ids, 6)
            loss = tf.reduce_sum(out * upstream)
        results.append([out.numpy()] + [g.numpy() for g in tape.gradient(loss, [logits, values])])
    for ours, plain in zip(*results):
        np.testing.assert_allclose(ours, plain, rtol=1e-5, atol=1e-6)
    assert np.all(results[0][0][[2, 4, 5]] == 0)
    # Session 1 has a single node: weight 1, so out = values and d logits = 0.
    np.testing.assert_allclose(results[0][0][1], values.numpy()[3], rtol=1e-6)
    np.testing.assert_allclose(results[0][1][3], 0, atol=1e-6)


@pytest.mark.parametrize("variant,readout,global_attention,steps", [
    ("tagnn", "paper", "softmax", 1), ("tagnn", "official", "softmax", 1), ("tagnn", "paper", "none", 2),
    ("att", "official", "softmax", 1), ("local_att", "paper", "softmax", 1),
])
def test_official_padding_matches_numpy_reference(variant, readout, global_attention, steps):
    # The reference pads each session with item 0 to the longest session of the
    # batch (so that one has no padding) and runs the official code's per-position
    # softmaxes; the model gets the padded length as an input instead.
    model = build_model(ModelConfig(hidden_size=HIDDEN, gnn_steps=steps, variant=variant,
                                    readout=readout, global_attention=global_attention, padding="official"),
                        NUM_ITEMS, seed=0)
    for v in model.weights:
        v.assign(v * 3.0)
    sessions = _sessions(seed=4)
    length = max(len(s) for s in sessions)
    inputs = densify(tf.ragged.constant(sessions, dtype=tf.int64))
    inputs["padded_length"] = tf.fill([len(sessions)], length)
    got = model(inputs).numpy()
    w = weights_of(model)
    ref = np.stack([scores(s, w, variant, readout, global_attention, steps, padded_length=length) for s in sessions])
    assert np.max(np.abs(got - ref)) / np.max(np.abs(ref)) < 1e-5
    # The padding changes the scores of every padded session (so the test above
    # is not passing by ignoring it), and not those of the longest one.
    masked = np.stack([scores(s, w, variant, readout, global_attention, steps) for s in sessions])
    changed = np.max(np.abs(masked - ref), axis=1) > 1e-3
    assert changed.tolist() == [len(s) < length for s in sessions]


def test_segment_attention_with_sink_by_hand_and_gradient():
    from tagnn_tf.layers.target_attention import segment_attention

    # By hand: one session, nodes with logits ln 2 and 0, values 1 and 4, one
    # padded position (logit 0, value 0): weights 2/4, 1/4, 1/4, so
    # out = (2 * 1 + 1 * 4 + 1 * 0) / 4 = 1.5.
    out = segment_attention(tf.constant([[np.log(2.0)], [0.0]], tf.float32),
                            tf.constant([[1.0], [4.0]]), tf.constant([0, 0]), 1, tf.constant([1.0]))
    np.testing.assert_allclose(out.numpy(), [[1.5]], rtol=1e-6)
    # Against autodiff of the literal form: each padded position appended as a
    # node of logit 0 and value 0. Session 0 has 2 padded positions and logits
    # far below 0 (the sink dominates), session 1 none, session 2 one.
    rng = np.random.default_rng(1)
    ids = tf.constant([0, 0, 1, 1, 1, 2], tf.int32)
    logits = rng.normal(size=(6, 5)) * 3
    logits[:2] -= 40.0
    logits, values = tf.constant(logits, tf.float32), tf.constant(rng.normal(size=(6, 5)), tf.float32)
    sinks = tf.constant([2.0, 0.0, 1.0])
    upstream = tf.constant(rng.normal(size=(3, 5)), tf.float32)
    pad_ids = tf.constant([0, 0, 2], tf.int32)

    def literal(lg, vl):
        return _plain_segment_attention(tf.concat([lg, tf.zeros((3, 5))], 0), tf.concat([vl, tf.zeros((3, 5))], 0),
                                        tf.concat([ids, pad_ids], 0), 3)

    results = []
    for fn in (lambda lg, vl: segment_attention(lg, vl, ids, 3, sinks), literal):
        with tf.GradientTape() as tape:
            tape.watch([logits, values])
            loss = tf.reduce_sum(fn(logits, values) * upstream)
        results.append([g.numpy() for g in tape.gradient(loss, [logits, values])] + [loss.numpy()])
    for ours, plain in zip(*results):
        np.testing.assert_allclose(ours, plain, rtol=1e-5, atol=1e-6)
