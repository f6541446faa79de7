"""A session's scores depend neither on padding nor on the other sessions in its batch."""

import numpy as np
import pytest
import tensorflow as tf

from tagnn_tf.config import ModelConfig
from tagnn_tf.layers.session_graph import densify
from tagnn_tf.models import build_model

SESSION = [4, 8, 4, 15]


def _model(variant, readout="official", global_attention="softmax"):
    return build_model(ModelConfig(hidden_size=12, variant=variant, readout=readout,
                                   global_attention=global_attention), 40, seed=3)


def _pad_nodes(inputs, extra):
    """Adds `extra` padding nodes to every session of a densified batch."""
    out = dict(inputs)
    for k in ("items", "node_counts"):
        out[k] = tf.pad(inputs[k], [[0, 0], [0, extra]])
    for k in ("adj_in", "adj_out"):
        out[k] = tf.pad(inputs[k], [[0, 0], [0, extra], [0, extra]])
    return out


@pytest.mark.parametrize("variant,readout,global_attention", [
    ("tagnn", "official", "softmax"), ("tagnn", "paper", "none"), ("avg", "official", "softmax"),
    ("local_att", "official", "softmax"), ("att", "official", "none")])
def test_scores_ignore_padding_and_batch_mates(variant, readout, global_attention):
    model = _model(variant, readout, global_attention)
    alone = model(densify(tf.ragged.constant([SESSION]))).numpy()[0]
    # Padded to a longer session's width (U = 12), with different batch-mates.
    batch = [list(range(1, 13)) + [3, 3], SESSION, [7]]
    in_batch = model(densify(tf.ragged.constant(batch))).numpy()[1]
    np.testing.assert_allclose(in_batch, alone, rtol=0, atol=1e-5)
    # Extra all-zero padding nodes give exactly the same scores.
    padded = model(_pad_nodes(densify(tf.ragged.constant([SESSION])), 30)).numpy()[0]
    np.testing.assert_allclose(padded, alone, rtol=0, atol=1e-5)
    # The batch-mates really differ (the test is not vacuous).
    assert np.max(np.abs(model(densify(tf.ragged.constant(batch))).numpy()[0] - alone)) > 1e-3


def test_repeated_clicks_equal_node_multiplicity():
    # Attention over clicks [4, 8, 4, 15] equals attention over nodes {4: 2, 8: 1, 15: 1}:
    # changing a count changes the scores (so counts are used), and the order of
    # first clicks does not matter for nodes with the same graph.
    model = _model("tagnn")
    inputs = densify(tf.ragged.constant([SESSION]))
    base = model(inputs).numpy()
    changed = dict(inputs, node_counts=inputs["node_counts"] * tf.constant([[1.0, 3.0, 1.0]]))
    assert np.max(np.abs(model(changed).numpy() - base)) > 1e-4
