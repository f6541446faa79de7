"""The Keras model equals the NumPy reference of the paper's equations."""

import numpy as np
import pytest
import tensorflow as tf

from tagnn_tf.config import ModelConfig
from tagnn_tf.data.session_graph import densify
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


def _model(variant, readout, global_attention, steps, seed=0):
    model = build_model(ModelConfig(num_items=NUM_ITEMS, hidden_size=HIDDEN, gnn_steps=steps, variant=variant,
                                    readout=readout, global_attention=global_attention), seed=seed)
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
