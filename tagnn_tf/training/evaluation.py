"""Recompute the metrics of a saved run."""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from tagnn_tf.config import ExperimentConfig
from tagnn_tf.data.datasets import load_splits
from tagnn_tf.data.safe_pickle import DataFileError
from tagnn_tf.models.tagnn import TAGNN  # noqa: F401  (registers the classes for loading)
from tagnn_tf.training import run_files
from tagnn_tf.training.trainer import DistributedSteps, evaluate_examples


def load_run(model_dir: str):
    """(config, model) of a finished or running training run."""
    config_path = os.path.join(model_dir, run_files.CONFIG)
    model_path = os.path.join(model_dir, run_files.BEST_MODEL)
    for path in (config_path, model_path):
        if not os.path.exists(path):
            raise DataFileError(f"{path}: not found; is {model_dir!r} a model dir written by trainers.train?")
    with open(config_path) as f:
        config = ExperimentConfig.from_dict(json.load(f))
    return config, keras.saving.load_model(model_path)


def evaluate_run(model_dir: str, splits=("val", "test"), full: bool = True) -> dict:
    """Metrics (%) of `<model_dir>/best.keras` on the run's data.

    `full` evaluates every example even if the run used `max_eval_examples`.
    Writes `<model_dir>/evaluation.json`.
    """
    config, model = load_run(model_dir)
    data = load_splits(config.data)
    if data.num_items != config.model.num_items:
        raise ValueError(f"The data now has {data.num_items} items but the model was trained with "
                         f"{config.model.num_items}")
    tc = config.train
    if full:
        import dataclasses

        tc = dataclasses.replace(tc, max_eval_examples=0)
    strategy = tf.distribute.get_strategy()
    steps = DistributedSteps(model, None, strategy, 0.0)
    examples = {"val": data.valid, "test": data.test, "train": data.train}
    out = {split: evaluate_examples(steps, examples[split], tc) for split in splits}
    result_path = os.path.join(model_dir, run_files.RESULT)
    if os.path.exists(result_path):
        with open(result_path) as f:
            out["selected_epoch"] = json.load(f).get("selected_epoch")
    run_files.write_json_atomic(os.path.join(model_dir, "evaluation.json"), out)
    return out
