"""Which validation split tracks the test set: the val - test gap of each split.

Validation picks hyper-parameters and epochs, so its metric should move with
the test metric. For each dataset, split (`DataConfig.valid_split`) and
method, the method is fitted on that split's training part and scored on its
validation part and on the (fixed) test set; rows go to
`<out_dir>/<dataset>.jsonl` (rerunning skips rows already there).

The non-neural methods (fitted in seconds, deterministic) measure the gap of
a model that memorises the training sessions; neural runs (`trainers.train
--valid_split=...`) add the per-epoch view from their `metrics.jsonl`.
"""

from __future__ import annotations

import os
import time
from typing import Callable, Sequence

from tagnn_tf import run_directory
from tagnn_tf.arguments import VALID_SPLITS, check_choice
from tagnn_tf.model_registry import NON_NEURAL_MODELS
from tagnn_tf.config import DataConfig, ExperimentConfig, ModelConfig

STUDY_METHODS = ("item_knn", "sr", "sknn", "stan")


def measure(out_dir: str, datasets: Sequence[str], data_dir: str, methods: Sequence[str] = STUDY_METHODS,
            splits: Sequence[str] = VALID_SPLITS, log: Callable = print) -> list:
    """Rows {dataset, split, method, val, test, gap (val - test HR@20 / MRR@20)} (appended per dataset)."""
    from tagnn_tf.baselines.baseline_run import fit_and_score
    from tagnn_tf.data.datasets import load_splits

    for m in methods:
        check_choice("method", m, NON_NEURAL_MODELS)
    for s in splits:
        check_choice("valid_split", s, VALID_SPLITS)
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for dataset in datasets:
        path = os.path.join(out_dir, f"{dataset}.jsonl")
        done = {(r["split"], r["method"]) for r in run_directory.read_jsonl(path)}
        for split in splits:
            data_config = DataConfig(dataset=dataset, data_dir=data_dir, valid_split=split)
            data = None
            for method in methods:
                if (split, method) in done:
                    continue
                data = data or load_splits(data_config)
                started = time.perf_counter()
                out = fit_and_score(ExperimentConfig(model=ModelConfig(name=method), data=data_config), data,
                                    log=lambda *_: None)
                row = {"dataset": dataset, "split": split, "method": method, "valid_examples": len(data.valid),
                       "val": out["val"], "test": out["test"],
                       "gap": {k: round(out["val"][k] - out["test"][k], 4) for k in ("hr@20", "mrr@20")},
                       "seconds": round(time.perf_counter() - started, 1)}
                run_directory.append_jsonl(path, row)
                rows.append(row)
                log(f"{dataset} {split:8s} {method:8s} val HR@20 {out['val']['hr@20']:.2f} test "
                    f"{out['test']['hr@20']:.2f} gap {row['gap']['hr@20']:+.2f}")
    return rows


NEURAL_DIR = "neural"


def measure_neural(out_dir: str, dataset: str, data_dir: str, method: str = "stamp", splits: Sequence[str] = VALID_SPLITS,
                   epochs: int = 3, train_candidates: str = "full", log: Callable = print) -> list:
    """The per-epoch view: `method` trained (default configuration, `epochs` epochs) once per split.

    `train_candidates`: `TrainConfig.train_candidates` (`sampled` as the neural tuning).

    Runs go to `<out_dir>/neural/<dataset>/<method>-<split>/` (trainer run
    directories: rerunning resumes them); their `metrics.jsonl` holds each
    epoch's validation and test metrics. Returns the finished runs' results.
    """
    from tagnn_tf.config import TrainConfig
    from tagnn_tf.training.trainer import train

    out = []
    for split in splits:
        check_choice("valid_split", split, VALID_SPLITS)
        config = ExperimentConfig(model=ModelConfig(name=method),
                                  data=DataConfig(dataset=dataset, data_dir=data_dir, valid_split=split),
                                  train=TrainConfig(epochs=epochs, train_candidates=train_candidates))
        out.append(train(config, os.path.join(out_dir, NEURAL_DIR, dataset, f"{method}-{split}"), log=log))
    return out
