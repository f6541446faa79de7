"""Constructor validation, configs and .keras round trips."""

import numpy as np
import pytest
import keras
import tensorflow as tf

from tagnn_tf.config import ModelConfig
from tagnn_tf.data.session_graph import densify
from tagnn_tf.layers import GatedGraphCell, SessionReadout, TargetAttention
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


@pytest.mark.parametrize("layer", [GatedGraphCell(8, steps=2, seed=1), TargetAttention(8, True),
                                   SessionReadout(8, "local_att", "paper", "none")])
def test_layer_config_round_trip(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_gnn_rejects_wrong_width():
    with pytest.raises(ValueError, match="width hidden_size=8"):
        GatedGraphCell(8)(tf.zeros([1, 2, 5]), tf.zeros([1, 2, 2]), tf.zeros([1, 2, 2]))


@pytest.mark.parametrize("variant,readout", [("tagnn", "paper"), ("tagnn", "official"), ("avg", "official")])
def test_keras_file_round_trip(tmp_path, variant, readout):
    model = build_model(ModelConfig(num_items=30, hidden_size=8, variant=variant, readout=readout), seed=5)
    inputs = densify(tf.ragged.constant([[3, 4, 3], [30]]))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, TAGNN) and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded(inputs).numpy(), model(inputs).numpy())


def test_missing_input_key_is_named():
    model = build_model(ModelConfig(num_items=5, hidden_size=4), seed=0)
    inputs = densify(tf.ragged.constant([[1, 2]]))
    inputs.pop("adj_in")
    with pytest.raises(ValueError, match="adj_in"):
        model(inputs)


def test_init_is_uniform_in_one_over_sqrt_d():
    model = build_model(ModelConfig(num_items=500, hidden_size=16), seed=0)
    for v in model.weights:
        a = np.asarray(v)
        assert np.all(np.abs(a) <= 0.25 + 1e-7), v.path  # 1/sqrt(16)
    emb = np.asarray(model.embedding.embeddings)
    assert emb.std() == pytest.approx(0.25 / np.sqrt(3), rel=0.05)  # std of U(-a, a) is a / sqrt(3)
