"""Training with a repeat mechanism: sampled and full softmax, resume, the boost's weight, per-subset metrics."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tagnn_tf import run_directory
from tagnn_tf.models import model_builder
from tagnn_tf.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from tagnn_tf.layers.repeat_scores import BOOST_WEIGHTS, REPEAT_FLOORS
from tagnn_tf.data.datasets import load_splits
from tagnn_tf.training.evaluation import evaluate_run
from tagnn_tf.training.trainer import DistributedSteps, evaluate_examples, train

# A small repeat-heavy synthetic log: about 45% of the next clicks repeat a session item.
SMALL = dict(synthetic_num_items=300, synthetic_num_sessions=2500, synthetic_seed=1, synthetic_repeat_share=0.45)


def _config(mechanism, name="tagnn", repeat_floor="none", **train):
    return ExperimentConfig(model=ModelConfig(name=name, repeat_mechanism=mechanism, repeat_floor=repeat_floor),
                            data=DataConfig(**SMALL), train=TrainConfig(**{"batch_size": 50, **train}))


def _quiet(_):
    pass


def _rows(model_dir):
    return run_directory.read_jsonl(os.path.join(model_dir, "metrics.jsonl"))


def _assert_reproduces(model_dir, row):
    """The run's `best.keras` scores validation and test as its metrics row `row` says."""
    again = evaluate_run(model_dir, ("val", "test"))
    for split in ("val", "test"):
        for k in ("hr@20", "mrr@20", "repeat/hr@20", "new/hr@20"):
            assert again[split][k] == pytest.approx(row[split][k], abs=1e-3)


def test_every_epoch_reports_the_repeat_and_new_subsets(tmp_path):
    model_dir = str(tmp_path / "plain")
    result = train(_config("none", epochs=1, steps_per_epoch=5), model_dir, log=_quiet)
    for split in ("val", "test"):
        metrics = result[split]
        assert 40 < metrics["repeat_share"] < 50
        # Overall = the share-weighted mean of the two subsets.
        share = metrics["repeat_share"] / 100
        for k in ("hr@20", "mrr@20"):
            assert metrics[k] == pytest.approx(share * metrics[f"repeat/{k}"] + (1 - share) * metrics[f"new/{k}"],
                                               abs=1e-3)
    assert set(_rows(model_dir)[0]["test"]) == set(result["test"])


@pytest.mark.parametrize("candidates", ["full", "sampled"])
def test_repeat_explore_trains_and_beats_the_plain_model_on_the_repeat_labels(tmp_path, candidates):
    kwargs = dict(epochs=1, train_candidates=candidates, num_negatives=100)
    plain = train(_config("none", **kwargs), str(tmp_path / "plain"), log=_quiet)
    repeat = train(_config("repeat_explore", **kwargs), str(tmp_path / "repeat"), log=_quiet)
    assert repeat["test"]["repeat/mrr@20"] > plain["test"]["repeat/mrr@20"] + 5
    assert repeat["test"]["mrr@20"] > plain["test"]["mrr@20"]


def test_repeat_explore_resumes_inside_an_epoch_exactly(tmp_path, monkeypatch):
    config = _config("repeat_explore", epochs=1, train_candidates="sampled", num_negatives=100,
                     checkpoint_every_steps=10, steps_per_epoch=30)
    reference = str(tmp_path / "reference")
    train(config, reference, log=_quiet)
    calls, original = [], DistributedSteps.train

    def crashing_train(self, batch, spec):
        calls.append(1)
        if len(calls) == 25:  # the last save was after batch 20
            raise KeyboardInterrupt
        return original(self, batch, spec)

    resumed = str(tmp_path / "resumed")
    monkeypatch.setattr(DistributedSteps, "train", crashing_train)
    with pytest.raises(KeyboardInterrupt):
        train(config, resumed, log=_quiet)
    monkeypatch.setattr(DistributedSteps, "train", original)
    train(config, resumed, log=_quiet)
    assert _rows(resumed)[0]["test"] == _rows(reference)[0]["test"]
    assert _rows(resumed)[0]["val"] == _rows(reference)[0]["val"]


def test_the_boost_weight_is_picked_on_validation_and_saved_with_the_model(tmp_path):
    model_dir = str(tmp_path / "boost")
    config = _config("boost", epochs=1, steps_per_epoch=20)
    result = train(config, model_dir, log=_quiet)
    row = _rows(model_dir)[0]
    assert row["boost_weight"] in BOOST_WEIGHTS and result["boost_weight"] == row["boost_weight"]
    # On a log with 45% repeats a positive weight wins on validation.
    assert row["boost_weight"] > 0
    best = keras.saving.load_model(os.path.join(model_dir, "best.keras"))
    assert float(best.repeat.boost.numpy()) == row["boost_weight"]
    # The saved model (with its weight) reproduces the logged metrics.
    _assert_reproduces(model_dir, row)
    # A weight of 0 gives the trained (plain) model's scores; the boost raises the repeat labels.
    best.repeat.boost.assign(0.0)
    steps = DistributedSteps(best, None, tf.distribute.get_strategy(), 0.0)
    zero = evaluate_examples(steps, load_splits(config.data).test, config.train)
    assert row["test"]["repeat/mrr@20"] > zero["repeat/mrr@20"]


def test_the_repeat_floor_is_picked_on_validation_saved_with_the_model_and_leaves_training_alone(tmp_path):
    kwargs = dict(epochs=2, steps_per_epoch=15, train_candidates="sampled", num_negatives=100)
    without = str(tmp_path / "without")
    train(_config("repeat_explore", **kwargs), without, log=_quiet)
    model_dir = str(tmp_path / "floor")
    config = _config("repeat_explore", repeat_floor="validated", **kwargs)
    result = train(config, model_dir, log=_quiet)
    rows, plain_rows = _rows(model_dir), _rows(without)
    assert all(r["repeat_floor"] in REPEAT_FLOORS for r in rows) and "repeat_floor" not in plain_rows[0]
    best_row = next(r for r in rows if r["epoch"] == result["selected_epoch"])
    assert result["repeat_floor"] == best_row["repeat_floor"]
    # The floor is picked among values that include 0 (the run without it), on the same training.
    for row, plain_row in zip(rows, plain_rows):
        assert row["val"]["hr@20"] >= plain_row["val"]["hr@20"]
    best = keras.saving.load_model(os.path.join(model_dir, "best.keras"))
    assert float(best.repeat.floor.numpy()) == pytest.approx(best_row["repeat_floor"])
    _assert_reproduces(model_dir, best_row)
    # With the floor at 0 the saved model scores as the run without it at that epoch (the loss ignores the floor).
    best.repeat.floor.assign(0.0)
    steps = DistributedSteps(best, None, tf.distribute.get_strategy(), 0.0)
    zero = evaluate_examples(steps, load_splits(config.data).test, config.train)
    plain_at_epoch = plain_rows[result["selected_epoch"] - 1]["test"]
    for k in ("hr@20", "mrr@20"):
        assert zero[k] == pytest.approx(plain_at_epoch[k], abs=1e-3)


@pytest.mark.parametrize("name", ["narm", "stamp"])
def test_sequence_models_train_with_the_mechanism(tmp_path, name):
    result = train(_config("repeat_explore", name=name, epochs=1, steps_per_epoch=10, train_candidates="sampled",
                           num_negatives=100), str(tmp_path / name), log=_quiet)
    assert np.isfinite(result["test"]["hr@20"]) and result["test"]["repeat_share"] > 40


@pytest.mark.parametrize("candidates", ["full", "sampled"])
def test_the_explore_part_trains_exactly_as_the_plain_model(tmp_path, candidates):
    # Same seed, same batches: the repeat layer's losses pass no gradient into the encoder and the
    # explore part's loss is the plain model's, so after training its scores are the plain model's.
    kwargs = dict(epochs=1, steps_per_epoch=15, train_candidates=candidates, num_negatives=100)
    train(_config("none", **kwargs), str(tmp_path / "plain"), log=_quiet)
    train(_config("repeat_explore", **kwargs), str(tmp_path / "repeat"), log=_quiet)
    _, plain = model_builder.load_run(str(tmp_path / "plain"))
    _, repeat = model_builder.load_run(str(tmp_path / "repeat"))
    splits = load_splits(DataConfig(**SMALL))
    from tagnn_tf.data import pipeline
    from tagnn_tf.training.trainer import model_preprocessor

    features, _ = next(iter(pipeline.eval_dataset(splits.test, 64, preprocessor=model_preprocessor(plain))))
    explore, _ = repeat.explore_and_repeat(features, repeat.candidate_table_t(), training=False)
    np.testing.assert_allclose(explore.numpy(), plain(features, training=False).numpy(), atol=1e-4)
