"""Recompute the metrics of a saved neural run (`tagnn_tf.launcher.evaluate_run` for any run)."""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf

from tagnn_tf import run_directory
from tagnn_tf.models import model_builder
from tagnn_tf.data.datasets import load_splits
from tagnn_tf.training.trainer import DistributedSteps, evaluate_examples


def evaluate_run(model_dir: str, splits=("val", "test"), full: bool = True) -> dict:
    """Metrics (%) of `<model_dir>/best.keras` on the run's data.

    `full` evaluates every example even if the run used `max_eval_examples` (or, streamed,
    `stream_eval_examples`).
    Writes `<model_dir>/evaluation.json`.

    Raises:
      InputError: a missing run file, or data whose ids no longer fit the
        model's catalogue.
    """
    config, model = model_builder.load_run(model_dir)
    data = load_splits(config.data)  # `data.num_items` is the model's: larger ids are refused
    run_directory.check_run_items(model_dir, data.items, "evaluate it")
    tc = dataclasses.replace(config.train, max_eval_examples=0, stream_eval_examples=0) if full else config.train
    strategy = tf.distribute.get_strategy()
    steps = DistributedSteps(model, None, strategy, 0.0)
    examples = {"val": data.valid, "test": data.test, "train": data.train}
    out = {split: evaluate_examples(steps, examples[split], tc) for split in splits}
    result_path = os.path.join(model_dir, run_directory.RESULT)
    if os.path.exists(result_path):
        out["selected_epoch"] = run_directory.read_json(result_path).get("selected_epoch")
    run_directory.write_json_atomic(os.path.join(model_dir, run_directory.EVALUATION), out)
    return out
