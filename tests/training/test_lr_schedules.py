"""The validation-driven (`plateau`) and budgeted (`linear`) learning-rate schedules inside a training run."""

import os

import pytest

from tagnn_tf import run_directory
from tagnn_tf.config import DataConfig, ExperimentConfig, TrainConfig
from tagnn_tf.training import trainer as trainer_module
from tagnn_tf.training.trainer import DistributedSteps, train

REAL_EVALUATE = trainer_module.evaluate_examples
SMALL = dict(synthetic_num_items=300, synthetic_num_sessions=2500, synthetic_seed=1)
STEPS = 30  # batches per epoch


def _config(**train_kwargs):
    return ExperimentConfig(data=DataConfig(**SMALL), train=TrainConfig(
        **{"batch_size": 50, "steps_per_epoch": STEPS, **train_kwargs}))


def _quiet(_):
    pass


def _scripted_validation(monkeypatch, values):
    """Each epoch's validation HR@20 is the next of `values` (the test split's metrics stay real)."""
    calls, values = [], list(values)

    def evaluate(steps, examples, config, boosts=False):
        metrics = REAL_EVALUATE(steps, examples, config, boosts)
        calls.append(1)
        if len(calls) % 2 == 1:  # finish_epoch evaluates validation, then test
            metrics = {**metrics, "hr@20": values.pop(0)}
        return metrics

    monkeypatch.setattr(trainer_module, "evaluate_examples", evaluate)


def _rates(model_dir):
    return [r["lr"] for r in run_directory.read_jsonl(os.path.join(model_dir, "run_log.jsonl"))]


def test_plateau_decays_after_an_epoch_without_validation_gain_and_a_resumed_run_does_too(tmp_path, monkeypatch):
    # Validation HR@20 30, 20 (no gain: x0.1), 40: rates 1e-3, 1e-3, 1e-4.
    whole = str(tmp_path / "whole")
    _scripted_validation(monkeypatch, [30.0, 20.0, 40.0])
    train(_config(epochs=3, lr_schedule="plateau"), whole, log=_quiet)
    assert _rates(whole) == pytest.approx([1e-3, 1e-3, 1e-4])
    # Stopped after epoch 2, resumed in a new process: the decay comes from metrics.jsonl.
    resumed = str(tmp_path / "resumed")
    _scripted_validation(monkeypatch, [30.0, 20.0])
    train(_config(epochs=2, lr_schedule="plateau"), resumed, log=_quiet)
    _scripted_validation(monkeypatch, [40.0])
    messages = []
    train(_config(epochs=3, lr_schedule="plateau"), resumed, log=messages.append)
    assert any(m.startswith("epoch 3/3  lr 0.0001") for m in messages), messages
    assert _rates(resumed) == pytest.approx([1e-3, 1e-3, 1e-4])
    a = run_directory.read_jsonl(os.path.join(whole, "metrics.jsonl"))
    b = run_directory.read_jsonl(os.path.join(resumed, "metrics.jsonl"))
    assert [r["test"] for r in b] == [r["test"] for r in a]


class _Crash(Exception):
    pass


def test_linear_falls_batch_by_batch_and_resumes_inside_an_epoch_exactly(tmp_path, monkeypatch):
    original = DistributedSteps.train
    rates = []

    def recording_train(self, batch, spec):
        rates.append(float(self.optimizer.learning_rate.numpy()))
        return original(self, batch, spec)

    whole = str(tmp_path / "whole")
    monkeypatch.setattr(DistributedSteps, "train", recording_train)
    train(_config(epochs=2, lr_schedule="linear"), whole, log=_quiet)
    # 2 epochs of 30 batches: batch b (0-based, 0..59) trains at 1e-3 * (1 - b / 60).
    assert rates == pytest.approx([1e-3 * (1 - b / 60) for b in range(60)])
    assert _rates(whole) == pytest.approx([1e-3, 5e-4])  # each epoch's first batch

    def crashing_train(self, batch, spec):
        if len(rates) == STEPS + 15:  # 15 batches into epoch 2; the last checkpoint is after batch 10
            raise _Crash()
        return recording_train(self, batch, spec)

    rates.clear()
    resumed = str(tmp_path / "resumed")
    monkeypatch.setattr(DistributedSteps, "train", crashing_train)
    with pytest.raises(_Crash):
        train(_config(epochs=2, lr_schedule="linear", checkpoint_every_steps=10), resumed, log=_quiet)
    monkeypatch.setattr(DistributedSteps, "train", recording_train)
    rates.clear()
    train(_config(epochs=2, lr_schedule="linear", checkpoint_every_steps=10), resumed, log=_quiet)
    assert rates == pytest.approx([1e-3 * (1 - b / 60) for b in range(STEPS + 10, 60)])
    a = run_directory.read_jsonl(os.path.join(whole, "metrics.jsonl"))
    b = run_directory.read_jsonl(os.path.join(resumed, "metrics.jsonl"))
    assert [r["test"] for r in b] == [r["test"] for r in a]
    # The budget sets the rates, so a linear run does not resume under another --epochs.
    with pytest.raises(ValueError, match="different configuration"):
        train(_config(epochs=3, lr_schedule="linear"), resumed, log=_quiet)
