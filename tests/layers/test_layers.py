"""Constructor validation, configs and .keras round trips."""

import numpy as np
import pytest
import keras
import tensorflow as tf

from tagnn_tf.config import ModelConfig
from tagnn_tf.layers.session_graph import densify
from tagnn_tf.layers import GatedGraphCell, SessionPreprocessor, SessionReadout, TargetAttention
from tagnn_tf.models import TAGNN, build_model


@pytest.mark.parametrize("factory,fragment", [
    (lambda: GatedGraphCell(0), "hidden_size=0"),
    (lambda: GatedGraphCell(8, steps=0), "steps=0"),
    (lambda: TargetAttention(-1), "hidden_size=-1"),
    (lambda: SessionReadout(8, variant="x"), "variant='x'"),
    (lambda: SessionReadout(8, global_attention="max"), "global_attention='max'"),
    (lambda: TAGNN(num_items=0), "num_items=0"),
])
def test_constructor_errors(factory, fragment):
    with pytest.raises(ValueError, match="Received: .*" + fragment):
        factory()


def _layer_inputs(rng):
    """Inputs of every layer: 2 sessions, 3 node slots (session 1 has 2 real nodes), d = 8, N = 5."""
    nodes = tf.constant(rng.normal(size=(2, 3, 8)), tf.float32)
    counts = tf.constant([[1.0, 2.0, 1.0], [3.0, 1.0, 0.0]])
    adj = tf.constant(rng.uniform(size=(2, 3, 3)), tf.float32)
    return {
        "gnn": (nodes, adj, tf.transpose(adj, [0, 2, 1])),
        "attention": (nodes, counts, tf.constant(rng.normal(size=(8, 5)), tf.float32)),
        "readout": (nodes, counts, tf.constant([2, 1])),
        "preprocessor": (tf.constant([[3, 0, 7, -1, 99], [1, 2, 3, 4, 5]], tf.int64),),
    }


@pytest.mark.parametrize("kind,layer", [
    ("gnn", GatedGraphCell(8, steps=2, seed=1)),
    ("attention", TargetAttention(8, True)),
    ("readout", SessionReadout(8, "local_att", "paper", "none")),
    ("readout", SessionReadout(8, "tagnn", "official", "softmax")),
    ("preprocessor", SessionPreprocessor(10, max_session_length=3, with_click_alias=True)),
])
def test_layer_config_round_trip_computes_the_same(kind, layer):
    # The clone from the config, given the original's weights, must compute
    # the same outputs: a config that dropped an argument (steps, the value
    # projection, the variant, the request rules) would not.
    inputs = _layer_inputs(np.random.default_rng(0))[kind]
    expected = layer(*inputs)
    clone = type(layer).from_config(layer.get_config())
    clone(*inputs)
    clone.set_weights(layer.get_weights())
    got = clone(*inputs)
    if isinstance(expected, dict):
        assert sorted(got) == sorted(expected)
        for key in expected:
            np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(expected[key]), err_msg=key)
    else:
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


def test_gnn_rejects_wrong_width():
    with pytest.raises(ValueError, match="width hidden_size=8"):
        GatedGraphCell(8)(tf.zeros([1, 2, 5]), tf.zeros([1, 2, 2]), tf.zeros([1, 2, 2]))


@pytest.mark.parametrize("variant,readout", [("tagnn", "paper"), ("tagnn", "official"), ("avg", "official")])
def test_keras_file_round_trip(tmp_path, variant, readout):
    model = build_model(ModelConfig(hidden_size=8, variant=variant, readout=readout), 30, seed=5)
    inputs = densify(tf.ragged.constant([[3, 4, 3], [30]]))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, TAGNN) and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded(inputs).numpy(), model(inputs).numpy())


def test_missing_input_key_is_named():
    model = build_model(ModelConfig(hidden_size=4), 5, seed=0)
    inputs = densify(tf.ragged.constant([[1, 2]]))
    inputs.pop("adj_in")
    with pytest.raises(ValueError, match="adj_in"):
        model(inputs)


def test_init_is_uniform_in_one_over_sqrt_d():
    model = build_model(ModelConfig(hidden_size=16), 500, seed=0)
    for v in model.weights:
        a = np.asarray(v)
        assert np.all(np.abs(a) <= 0.25 + 1e-7), v.path  # 1/sqrt(16)
    emb = np.asarray(model.embedding.embeddings)
    assert emb.std() == pytest.approx(0.25 / np.sqrt(3), rel=0.05)  # std of U(-a, a) is a / sqrt(3)


@pytest.mark.parametrize("variant", ["tagnn", "local_att"])
def test_every_scoring_mode_gives_the_same_scores(variant):
    # train: sorted segment max, separate GEMMs; serve: unsorted max, one
    # stacked GEMM; tflite: unsorted max, separate GEMMs.
    model = build_model(ModelConfig(hidden_size=8, variant=variant, readout="paper"), 30, seed=2)
    inputs = densify(tf.ragged.constant([[3, 4, 3, 9], [30], [7, 8]]))
    train = model(inputs).numpy()
    for mode in ("serve", "tflite"):
        np.testing.assert_allclose(model(inputs, scoring_mode=mode).numpy(), train, atol=1e-5, err_msg=mode)
    with pytest.raises(ValueError, match="Received: scoring_mode='fast'"):
        model(inputs, scoring_mode="fast")
