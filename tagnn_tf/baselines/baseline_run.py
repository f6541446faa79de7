"""One non-neural baseline run in a run directory: fit, evaluate, write the files TAGNN's runs have.

Files (`tagnn_tf.run_directory`): config.json, items.txt, run_info.json,
metrics.jsonl (one row, "epoch" 1: validation and test metrics), run_log.jsonl
(fit and evaluation seconds, peak memory), result.json, and test_ranks.npz
(`run_directory.write_test_ranks`, for paired bootstraps). A finished run with the same config is not fitted again; the
methods are deterministic, so `evaluate_baseline` refits instead of storing
the fitted matrices.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Optional, Sequence

import numpy as np

from tagnn_tf import run_directory, run_lock
from tagnn_tf.baselines import make_baseline
from tagnn_tf.baselines.session_matrices import Sequences
from tagnn_tf.config import ExperimentConfig
from tagnn_tf.data.datasets import DatasetSplits, load_splits
from tagnn_tf.data.sessions import SessionExamples
from tagnn_tf.errors import InputError
from tagnn_tf.metrics import ranking_metrics

def evaluate_scorer(scorer, examples: SessionExamples, batch_size: int, log: Callable = print,
                    what: str = "") -> tuple:
    """(metrics in %, int32 ranks `[examples]` in order) of a fitted method."""
    ranks = np.empty(len(examples), np.int32)
    started = last = time.perf_counter()
    for start in range(0, len(examples), batch_size):
        part = examples.take(np.arange(start, min(start + batch_size, len(examples))))
        scores = scorer.score(Sequences.of_prefixes(part))
        ranks[start:start + len(part)] = ranking_metrics.numpy_target_ranks(scores, part.labels)
        if time.perf_counter() - last > 30:
            last = time.perf_counter()
            log(f"  {what} {start + len(part)}/{len(examples)} examples, {last - started:.0f}s")
    sums = ranking_metrics.numpy_rank_sums(ranks, repeats=examples.label_repeats())
    return ranking_metrics.finalize(sums), ranks


def fit_and_score(config: ExperimentConfig, splits: DatasetSplits, log: Callable = print,
                  score: Sequence[str] = ("val", "test")) -> dict:
    """Fits `config.model.name` on the training split (`fit_on`); metrics, ranks and seconds of the `score` splits.

    Fitted on training and validation sessions (`fit_on="train_and_valid"`),
    the validation split is not scored (`val` is None).
    """
    scorer = make_baseline(config.model.name, splits.num_items, config.baseline)
    started = time.perf_counter()
    sessions = Sequences.of_sessions(splits.train)
    with_valid = config.baseline.fit_on == "train_and_valid"
    if with_valid:
        sessions = sessions.concatenate(Sequences.of_sessions(splits.valid))
    scorer.fit(sessions)
    out = {"fit_seconds": time.perf_counter() - started, "val": None, "val_seconds": 0.0}
    examples = {"val": splits.valid, "test": splits.test}
    for split in score:
        if split == "val" and with_valid:
            continue
        started = time.perf_counter()
        out[split], out[f"{split}_ranks"] = evaluate_scorer(scorer, examples[split], config.baseline.score_batch_size,
                                                            log, split)
        out[f"{split}_seconds"] = time.perf_counter() - started
    return out


def fit_baseline(config: ExperimentConfig, model_dir: str, log: Callable = print,
                 splits: Optional[DatasetSplits] = None) -> dict:
    """Fits and evaluates a non-neural baseline in `model_dir`; returns the result summary.

    Raises:
      InputError: `config.model.name` is not a non-neural baseline, another
        process holds `model_dir`, or `model_dir` holds a run of another
        config.
    """
    splits = splits or load_splits(config.data)
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, num_items=splits.num_items))
    config_path = os.path.join(model_dir, run_directory.CONFIG)
    result_path = os.path.join(model_dir, run_directory.RESULT)
    if os.path.exists(config_path):
        if run_directory.read_config(model_dir) != config:
            raise InputError(f"{model_dir} holds a run of another config ({config_path}); use another --model_dir")
        if os.path.exists(result_path):
            log(f"{model_dir}: already finished")
            return run_directory.read_json(result_path)
    os.makedirs(model_dir, exist_ok=True)
    holder = run_lock.claim_run(model_dir)
    if holder:
        raise InputError(f"{model_dir} is {holder}: two runs must not share a --model_dir")
    try:
        run_directory.write_text_atomic(config_path, config.to_json() + "\n")
        run_directory.write_items(model_dir, splits.items)
        run_directory.write_json_atomic(os.path.join(model_dir, run_directory.RUN_INFO), {"sessions": [
            {"git_commit": run_directory.git_commit(), "machine": run_directory.machine_info()}]})
        log(f"{config.model.name}: {len(splits.train)} train / {len(splits.valid)} valid / {len(splits.test)} test "
            f"examples, {splits.num_items} items")
        out = fit_and_score(config, splits, log)
        seconds = out["fit_seconds"] + out["val_seconds"] + out["test_seconds"]
        row = {"epoch": 1, "seconds": round(seconds, 2), "val": out["val"], "test": out["test"]}
        run_directory.write_jsonl_atomic(os.path.join(model_dir, run_directory.METRICS), [row])
        run_directory.write_jsonl_atomic(os.path.join(model_dir, run_directory.RUN_LOG), [{
            "epoch": 1, "fit_seconds": round(out["fit_seconds"], 2), "val_seconds": round(out["val_seconds"], 2),
            "test_seconds": round(out["test_seconds"], 2), "peak_rss_gb": run_directory.peak_rss_gb()}])
        run_directory.write_test_ranks(model_dir, out["test_ranks"])
        result = {"selected_epoch": 1, "epochs_run": 1, "selection_metric": config.train.selection_metric,
                  "val": out["val"], "test": out["test"], "fit_seconds": round(out["fit_seconds"], 2),
                  "test_eval_seconds": round(out["test_seconds"], 2),
                  "peak_rss_gb_this_process": run_directory.peak_rss_gb()}
        run_directory.write_json_atomic(result_path, result)
        val = f"val HR@20 {out['val']['hr@20']:.2f} MRR@20 {out['val']['mrr@20']:.2f}; " if out["val"] else ""
        log(f"{config.model.name}: fit {out['fit_seconds']:.1f}s; {val}test HR@20 {out['test']['hr@20']:.2f} "
            f"MRR@20 {out['test']['mrr@20']:.2f} ({out['test_seconds']:.1f}s)")
        return result
    finally:
        run_lock.release_run(model_dir)


def evaluate_baseline(model_dir: str, splits=("val", "test")) -> dict:
    """Metrics (%) of a baseline run, refitted from its config (the methods are deterministic)."""
    config = run_directory.read_config(model_dir)
    data = load_splits(config.data)
    out = fit_and_score(config, data)
    return {split: out[split] for split in splits if out.get(split) is not None}
