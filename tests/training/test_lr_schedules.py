"""The validation-driven (`plateau`, `validated`) and budgeted (`linear`) learning-rate schedules inside a training
run."""

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

    def evaluate(steps, examples, config, choice=None):
        metrics = REAL_EVALUATE(steps, examples, config, choice)
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


def _scored_by_rate(monkeypatch, scores):
    """Validation HR@20 is `scores[(epoch, rate)]` of the epoch just trained and its rate (else 10 + epoch)."""
    real = trainer_module.Trainer.validate

    def validate(self):
        val, extra = real(self)
        key = (self.progress.values().epoch, round(float(self.optimizer.learning_rate.numpy()), 9))
        return {**val, "hr@20": scores.get(key, 10.0 + key[0])}, extra

    monkeypatch.setattr(trainer_module.Trainer, "validate", validate)


# Epoch 2: hold (12) beats decay (11); epoch 3: decay (14) beats hold (13). With --lr_decay_epochs=2 the
# decisions are at epochs 2 (declined) and 3 (kept); the next would be at 3 + 2 = 5. Rates: 1e-3, 1e-3, 1e-4,
# 1e-4, which are the paper schedule's with --lr_decay_epochs=2 ((epoch - 1) // 2 decays).
SCORES = {(2, 1e-3): 12.0, (2, 1e-4): 11.0, (3, 1e-3): 13.0, (3, 1e-4): 14.0}


def _choices(model_dir):
    return [r.get("lr_choice", {}).get("chosen") for r in run_directory.read_jsonl(
        os.path.join(model_dir, "metrics.jsonl"))]


def test_validated_keeps_the_branch_validation_prefers_and_continues_from_its_weights(tmp_path, monkeypatch):
    original = DistributedSteps.train
    batches = []

    def counting_train(self, batch, spec):
        batches.append(1)
        return original(self, batch, spec)

    monkeypatch.setattr(DistributedSteps, "train", counting_train)
    _scored_by_rate(monkeypatch, SCORES)
    chosen = str(tmp_path / "validated")
    messages = []
    train(_config(epochs=4, lr_decay_epochs=2, lr_schedule="validated"), chosen, log=messages.append)
    assert _choices(chosen) == [None, "hold", "decay", None]
    assert _rates(chosen) == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4])
    assert len(batches) == 6 * STEPS  # 4 epochs, and one more branch for each of the 2 decisions
    row = run_directory.read_jsonl(os.path.join(chosen, "metrics.jsonl"))[2]
    assert row["lr_choice"]["val"] == {"decay": 14.0, "hold": 13.0}
    assert row["lr_choice"]["lr"] == pytest.approx({"decay": 1e-4, "hold": 1e-3})
    assert any("continuing with the hold branch" in m for m in messages)
    # The branches' checkpoints are gone once the epoch is written; their records stay.
    for epoch in (2, 3):
        folder = os.path.join(chosen, "lr_choice", f"epoch-{epoch}")
        assert sorted(os.listdir(folder)) == ["choice.json", "decay", "hold"]
        assert sorted(os.listdir(os.path.join(folder, "decay"))) == ["branch.json", "trained.json"]
    # The kept branches trained exactly as the paper schedule with the same rates does, epoch by epoch.
    paper = str(tmp_path / "paper")
    train(_config(epochs=4, lr_decay_epochs=2, lr_schedule="paper"), paper, log=_quiet)
    a = run_directory.read_jsonl(os.path.join(chosen, "metrics.jsonl"))
    b = run_directory.read_jsonl(os.path.join(paper, "metrics.jsonl"))
    assert [r["test"] for r in a] == [r["test"] for r in b]
    # A decision past the checkpoints' epoch (left by a lineage whose checkpoints were lost) is deleted on resume.
    os.makedirs(os.path.join(chosen, "lr_choice", "epoch-9", "decay"))
    messages.clear()
    train(_config(epochs=4, lr_decay_epochs=2, lr_schedule="validated"), chosen, log=messages.append)
    assert sorted(os.listdir(os.path.join(chosen, "lr_choice"))) == ["epoch-2", "epoch-3"]
    assert any("lr_choice/epoch-9 belongs to epochs the checkpoints no longer hold" in m for m in messages)


def test_validated_resumes_inside_a_branch_and_after_the_decision_exactly(tmp_path, monkeypatch):
    _scored_by_rate(monkeypatch, SCORES)
    config = _config(epochs=4, lr_decay_epochs=2, lr_schedule="validated", checkpoint_every_steps=10)
    whole = str(tmp_path / "whole")
    train(config, whole, log=_quiet)
    original = DistributedSteps.train
    batches = []

    def crashing_train(self, batch, spec):
        batches.append(1)
        if len(batches) == 3 * STEPS + 15:  # epoch 2's hold branch (after the decay branch), 15 batches in
            raise _Crash()
        return original(self, batch, spec)

    resumed = str(tmp_path / "resumed")
    monkeypatch.setattr(DistributedSteps, "train", crashing_train)
    with pytest.raises(_Crash):
        train(config, resumed, log=_quiet)
    assert os.path.exists(os.path.join(resumed, "lr_choice", "epoch-2", "decay", "branch.json"))
    monkeypatch.setattr(DistributedSteps, "train", original)
    # A crash after epoch 3's decision is recorded, before the run adopts it.
    real_restore = trainer_module.RunCheckpoints.restore

    def crash_on_adoption(self, path):
        if "epoch-3" in path and os.path.basename(os.path.dirname(os.path.dirname(path))) == "decay" \
                and os.path.exists(os.path.join(resumed, "lr_choice", "epoch-3", "choice.json")):
            raise _Crash()
        return real_restore(self, path)

    monkeypatch.setattr(trainer_module.RunCheckpoints, "restore", crash_on_adoption)
    messages = []
    with pytest.raises(_Crash):
        train(config, resumed, log=messages.append)
    assert any("resuming after batch 10" in m for m in messages), messages
    monkeypatch.setattr(trainer_module.RunCheckpoints, "restore", real_restore)
    train(config, resumed, log=_quiet)
    a = run_directory.read_jsonl(os.path.join(whole, "metrics.jsonl"))
    b = run_directory.read_jsonl(os.path.join(resumed, "metrics.jsonl"))
    assert _choices(resumed) == [None, "hold", "decay", None]
    assert [r["test"] for r in b] == [r["test"] for r in a]
    assert [r["val"] for r in b] == [r["val"] for r in a]

