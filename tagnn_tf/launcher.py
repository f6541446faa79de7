"""Runs any `--model` in a run directory: the trainer for the neural models, the fitter for the others.

The floor above `tagnn_tf.training` and `tagnn_tf.baselines`, so neither knows
the other: `tagnn_tf.model_registry` says which a model is.
"""

from __future__ import annotations

import os

from tagnn_tf import model_registry, run_directory
from tagnn_tf.config import ExperimentConfig


def train(config: ExperimentConfig, model_dir: str, strategy=None, log=print, splits=None,
          hold_lock: bool = True) -> dict:
    """Trains (or resumes) a neural run (`tagnn_tf.training.trainer.train`), or fits and evaluates a
    non-neural one (`tagnn_tf.baselines.baseline_run.fit_baseline`) with the same run-directory files;
    returns the result summary."""
    if model_registry.is_neural(config.model.name):
        from tagnn_tf.training.trainer import train as train_neural

        return train_neural(config, model_dir, strategy=strategy, log=log, splits=splits, hold_lock=hold_lock)
    from tagnn_tf.baselines.baseline_run import fit_baseline

    return fit_baseline(config, model_dir, log, splits)


def evaluate_run(model_dir: str, splits=("val", "test"), full: bool = True) -> dict:
    """Metrics (%) of a finished run on its data, written to `<model_dir>/evaluation.json`: the neural
    run's `best.keras` (`tagnn_tf.training.evaluation.evaluate_run`), or the baseline refitted."""
    if model_registry.is_neural(run_directory.read_config(model_dir).model.name):
        from tagnn_tf.training.evaluation import evaluate_run as evaluate_neural

        return evaluate_neural(model_dir, splits, full)
    from tagnn_tf.baselines.baseline_run import evaluate_baseline

    out = evaluate_baseline(model_dir, splits)
    run_directory.write_json_atomic(os.path.join(model_dir, run_directory.EVALUATION), out)
    return out
