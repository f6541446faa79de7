"""The neural baselines: NumPy references, padding, learning on the synthetic task; every neural model's
SavedModel round trip in a process that does not import tagnn_tf."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tagnn_tf import model_registry, run_directory
from tagnn_tf.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from tagnn_tf.errors import InputError
from tagnn_tf.layers.session_preprocessor import SessionPreprocessor
from tagnn_tf.models import BPRMF, FPMC, GRU4Rec, NARM, STAMP, TAGNN, build_model

HERE = os.path.dirname(os.path.abspath(__file__))
SESSIONS = [[3, 1, 4, 1, 5], [9, 2], [6], [5, 3, 5, 8, 9, 7, 9]]


def features(sessions):
    return SessionPreprocessor(with_click_alias=True)(tf.ragged.constant(sessions, dtype=tf.int64))


def weights(layer):
    return [w.numpy() for w in layer.weights]


def test_every_neural_name_builds_its_class():
    expected = {"tagnn": TAGNN, "srgnn": TAGNN, "gru4rec": GRU4Rec, "narm": NARM, "stamp": STAMP, "bpr_mf": BPRMF,
                "fpmc": FPMC}
    for name, klass in expected.items():
        model = build_model(ModelConfig(name=name, hidden_size=6), 12, seed=0)
        assert type(model) is klass
        assert model(features(SESSIONS)).shape == (4, 12)
    assert build_model(ModelConfig(name="srgnn", hidden_size=6), 12).variant == "local_att"
    with pytest.raises(InputError, match="local_att"):
        ModelConfig(name="srgnn", variant="att")
    with pytest.raises(InputError, match="baselines"):
        build_model(ModelConfig(name="sknn"), 12)


def test_bpr_mf_and_fpmc_equal_numpy():
    mf = build_model(ModelConfig(name="bpr_mf", hidden_size=4), 10, seed=1)
    table = mf.embedding.embeddings.numpy()  # row i = item i
    expected = np.stack([table[s].mean(axis=0) @ table[1:].T for s in SESSIONS])
    np.testing.assert_allclose(mf(features(SESSIONS)).numpy(), expected, rtol=1e-5, atol=1e-6)

    fpmc = build_model(ModelConfig(name="fpmc", hidden_size=4), 10, seed=1)
    inputs, outputs = fpmc.embedding.embeddings.numpy(), fpmc.candidates.embeddings.numpy()
    # <mean U_j, V_i> + <L_last, W_i>: U, L = the input table's halves; V, W = the candidate table's.
    expected = np.stack([inputs[s, :4].mean(axis=0) @ outputs[1:, :4].T + inputs[s[-1], 4:] @ outputs[1:, 4:].T
                         for s in SESSIONS])
    np.testing.assert_allclose(fpmc(features(SESSIONS)).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_stamp_equals_numpy():
    model = build_model(ModelConfig(name="stamp", hidden_size=5), 10, seed=2)
    e = model.embedding.embeddings.numpy()
    (w1,), (w2,), (w3, b3), (w0,) = (weights(model.w1), weights(model.w2), weights(model.w3), weights(model.w0))
    ws, bs = weights(model.mlp_s)
    wt, bt = weights(model.mlp_t)

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    rows = []
    for s in SESSIONS:
        x = e[s]  # [l, d]
        m_s, x_t = x.mean(axis=0), x[-1]
        a = sigmoid(x @ w1 + x_t @ w2 + m_s @ w3 + b3) @ w0  # [l, 1]
        m_a = (a * x).sum(axis=0)
        rows.append((np.tanh(m_a @ ws + bs) * np.tanh(x_t @ wt + bt)) @ e[1:].T)
    np.testing.assert_allclose(model(features(SESSIONS)).numpy(), np.stack(rows), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["gru4rec", "narm", "stamp", "bpr_mf", "fpmc"])
def test_a_session_scores_the_same_alone_and_padded_in_a_batch(name):
    model = build_model(ModelConfig(name=name, hidden_size=6), 12, seed=3)
    together = model(features(SESSIONS)).numpy()
    for i, s in enumerate(SESSIONS):
        np.testing.assert_allclose(model(features([s])).numpy()[0], together[i], rtol=1e-5, atol=1e-6)
    if name in ("gru4rec", "narm"):  # order matters to the recurrent models
        reordered = model(features([list(reversed(SESSIONS[0]))])).numpy()[0]
        assert np.abs(reordered - together[0]).max() > 1e-4


@pytest.mark.parametrize("name,loss", [("srgnn", "cross_entropy"), ("gru4rec", "cross_entropy"),
                                       ("narm", "cross_entropy"),
                                       ("stamp", "cross_entropy"), ("bpr_mf", "bpr"), ("fpmc", "bpr")])
def test_baselines_learn_the_synthetic_task(name, loss, tmp_path):
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.data.synthetic import popularity_baseline
    from tagnn_tf.training.trainer import train

    data = DataConfig(synthetic_num_items=200, synthetic_num_sessions=3000)
    config = ExperimentConfig(model=ModelConfig(name=name, hidden_size=32), data=data,
                              train=TrainConfig(epochs=2, loss=loss, learning_rate=5e-3, l2=0.0))
    result = train(config, str(tmp_path / name), log=lambda *_: None)
    splits = load_splits(data)
    ranks = run_directory.read_test_ranks(str(tmp_path / name))  # the selected model's, in test-file order
    assert 100 * np.mean(ranks <= 20) == pytest.approx(result["test"]["hr@20"], abs=0.01)
    # Popularity HR@20 on this task is ~17%; the session structure is learnable.
    assert result["test"]["hr@20"] > popularity_baseline(splits.train, splits.test) + 15, result


@pytest.mark.parametrize("name", ["bpr_mf", "fpmc"])
def test_bpr_loss_over_candidates_equals_the_catalogue_reference(name):
    """The loss scores only labels and negatives; it is -log sigmoid(z_label - z_negative) of the full scores."""
    from tagnn_tf.training.trainer import DistributedSteps

    num_items = 9
    model = build_model(ModelConfig(name=name, hidden_size=4), num_items, seed=3)
    steps = DistributedSteps(model, keras.optimizers.Adam(), tf.distribute.get_strategy(), 0.0, loss="bpr")
    labels = tf.constant([4, 2, 7, 9])
    losses = steps._bpr_loss(features(SESSIONS), labels, 0).numpy()
    # The same stateless draw: step 0, micro-batch 0, columns 0..num_items-1.
    negatives = tf.random.stateless_uniform([4], tf.constant([0, 0]), 0, num_items, tf.int32).numpy()
    full = model(features(SESSIONS)).numpy()  # [4, num_items]; column = id - 1
    rows = np.arange(4)
    gap = full[rows, labels.numpy() - 1] - full[rows, negatives]
    expected = np.where(negatives == labels.numpy() - 1, 0.0, np.log1p(np.exp(-gap)))
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)


def test_bpr_loss_ignores_a_negative_equal_to_the_label():
    from tagnn_tf.training.trainer import DistributedSteps

    model = build_model(ModelConfig(name="bpr_mf", hidden_size=4), 1, seed=0)  # one item: every draw hits it
    steps = DistributedSteps(model, keras.optimizers.Adam(), tf.distribute.get_strategy(), 0.0, loss="bpr")
    np.testing.assert_array_equal(steps._bpr_loss(features([[1], [1, 1]]), tf.constant([1, 1]), 0).numpy(),
                                  [0.0, 0.0])


# Every neural model of the registry (TAGNN's other signatures: tests/serving), and the repeat mechanisms.
@pytest.mark.parametrize("name,mechanism", [(name, "none") for name in model_registry.NEURAL_MODELS] + [
    ("stamp", "repeat_explore"), ("narm", "repeat_explore"), ("bpr_mf", "boost")])
def test_export_round_trip(name, mechanism, tmp_path):
    """The SavedModel of a baseline, reloaded by a client that never imports tagnn_tf, scores as Keras does;
    the non-recurrent ones convert to TFLite builtins, the recurrent ones are refused with the reason."""
    from tagnn_tf.serving.tflite_export import convert_savedmodel

    from tagnn_tf.serving.savedmodel_export import export_savedmodel
    from tagnn_tf.serving.session_recommender import pad_sessions

    num_items = 30
    model_config = ModelConfig(name=name, hidden_size=8, repeat_mechanism=mechanism)
    model = build_model(model_config, num_items, seed=4)
    if mechanism == "boost":
        model.repeat.boost.assign(2.0)
    run = tmp_path / "run"
    run.mkdir()
    config = ExperimentConfig(model=model_config, data=DataConfig(num_items=num_items))
    (run / "config.json").write_text(config.to_json())
    model.save(str(run / "best.keras"))
    sessions = [[3, 1, 4, 1, 5], [9, 2], [6], [5, 3, 5, 8, 9, 7, 9], [2, 2]]
    path = export_savedmodel(str(run), str(tmp_path / "exports"), max_session_length=10,
                             warmup_sessions=sessions[:2], log=lambda *_: None, max_batch_sessions=2)
    np.savez(tmp_path / "requests.npz", req_real=pad_sessions(sessions))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, os.path.join(HERE, "..", "serving", "savedmodel_client.py"), path,
                           str(tmp_path / "requests.npz"), str(tmp_path / "out.npz")],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = dict(np.load(tmp_path / "out.npz"))
    expected = model(features(sessions)).numpy()
    np.testing.assert_allclose(out["real__scores"], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["tflite_default__real__scores"], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["raw__real__scores"], expected, rtol=1e-4, atol=1e-5)
    assert out["raw__real__top_k_ids"][0, 0].decode() == str(int(np.argmax(expected[0])) + 1)
    assert not out["imported_tagnn_tf"]
    if "tflite" not in model_registry.get(name).exports:  # the recurrent ones
        with pytest.raises(InputError, match="TensorList"):
            convert_savedmodel(path, str(tmp_path / "model.tflite"))
        return
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=convert_savedmodel(path, str(tmp_path / "model.tflite"))).get_signature_runner(
        "serving_default")
    np.testing.assert_allclose(runner(session_items=pad_sessions(sessions))["scores"], expected, rtol=1e-4, atol=1e-5)
