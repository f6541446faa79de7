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
