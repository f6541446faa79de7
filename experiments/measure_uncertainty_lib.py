"""How large a gap between two runs the test set can resolve: a paired bootstrap.

Every run of a dataset is scored on the same test examples. Resampling those
examples with replacement (the same resample for every run) gives, for each
run, an interval for HR@K / MRR@K under test-set sampling, and for each run
minus a reference run, an interval for the paired difference. It covers the
test sample only, not training randomness (another seed measures that).
"""

from __future__ import annotations

import os
from typing import Dict

import numpy as np
import tensorflow as tf

from experiments.reproduce_lib import DATASETS, DIAGNOSTICS_SUITE, PAPER_SUITE
from tagnn_tf import run_directory
from tagnn_tf.models import model_builder
from tagnn_tf.data.datasets import load_splits
from tagnn_tf.errors import InputError
from tagnn_tf.metrics import ranking_metrics
from tagnn_tf.training.trainer import target_ranks


def run_target_ranks(model_dir: str) -> np.ndarray:
    """1-based rank of each test target under `<model_dir>/best.keras`.

    Returns:
      int32 `[test examples]`, in test-file order (the same for every run of a dataset).
    """
    config, model = model_builder.load_run(model_dir)
    return target_ranks(model, load_splits(config.data).test, config.train)


def hit_and_mrr(ranks: np.ndarray, k: int = 20) -> Dict[str, float]:
    """HR@k and MRR@k in % from 1-based ranks (the trainer's metrics)."""
    return ranking_metrics.finalize(ranking_metrics.rank_sums(tf.constant(ranks), cutoffs=(k,)))


def paired_bootstrap(ranks_by_run: Dict[str, np.ndarray], reference: str, k: int = 20,
                     resamples: int = 1000, seed: int = 0) -> dict:
    """Percentile intervals (95%) of HR@k / MRR@k per run and of each run minus `reference`.

    Args:
      ranks_by_run: run name -> `[examples]` ranks of the same examples in the
        same order.
      reference: the run the differences are taken against.
      k: cutoff.
      resamples: bootstrap resamples (each draws `examples` indices with
        replacement, shared by all runs: a paired comparison).
      seed: of the resampling.

    Returns:
      {"examples", "resamples", "seed", "k", "reference", "runs": {name: {
      "hr@k", "hr@k_ci95", "mrr@k", "mrr@k_ci95", and, except for the
      reference, "minus_reference": {"hr@k", "hr@k_ci95", "hr@k_share_above_0",
      same for mrr@k}}}}; values in %.
    """
    if reference not in ranks_by_run:
        raise InputError(f"reference must be one of the runs {sorted(ranks_by_run)}. Received: {reference!r}")
    if resamples < 1:
        raise InputError(f"resamples must be >= 1. Received: {resamples}")
    sizes = {name: len(r) for name, r in ranks_by_run.items()}
    if len(set(sizes.values())) != 1 or 0 in sizes.values():
        raise InputError(f"Every run must rank the same, non-empty set of examples. Received sizes: {sizes}")
    n = sizes[reference]
    names = list(ranks_by_run)
    hits = np.stack([ranks_by_run[m] <= k for m in names]).astype(np.float64)  # [runs, n]
    reciprocal = hits / np.stack([ranks_by_run[m] for m in names])
    rng = np.random.default_rng(seed)
    draws = np.empty((resamples, len(names), 2))  # per resample, run: HR, MRR (%)
    for i in range(resamples):
        idx = rng.integers(0, n, n)
        draws[i, :, 0] = 100.0 * hits[:, idx].mean(axis=1)
        draws[i, :, 1] = 100.0 * reciprocal[:, idx].mean(axis=1)
    ref = names.index(reference)
    metrics = (f"hr@{k}", f"mrr@{k}")
    points = 100.0 * np.stack([hits.mean(axis=1), reciprocal.mean(axis=1)], axis=1)  # [runs, 2]
    runs = {}
    for j, name in enumerate(names):
        row = {}
        for m, metric in enumerate(metrics):
            row[metric] = round(float(points[j, m]), 4)
            row[f"{metric}_ci95"] = [round(float(v), 4) for v in np.percentile(draws[:, j, m], [2.5, 97.5])]
        if j != ref:
            diff = {}
            for m, metric in enumerate(metrics):
                d = draws[:, j, m] - draws[:, ref, m]
                diff[metric] = round(float(points[j, m] - points[ref, m]), 4)
                diff[f"{metric}_ci95"] = [round(float(v), 4) for v in np.percentile(d, [2.5, 97.5])]
                diff[f"{metric}_share_above_0"] = round(float((d > 0).mean()), 4)
            row["minus_reference"] = diff
        runs[name] = row
    return {"examples": n, "resamples": resamples, "seed": seed, "k": k, "reference": reference, "runs": runs}


def paired_by_subset(ranks_by_run: Dict[str, np.ndarray], reference: str, repeats: np.ndarray,
                     k: int = 20, resamples: int = 1000, seed: int = 0) -> Dict[str, dict]:
    """`paired_bootstrap` on every test label (`all`), on those that repeat an item of their session
    (`repeat`) and on the others (`new`).

    Args:
      repeats: bool `[examples]`, in the order of the ranks.

    Returns:
      {"all" | "repeat" | "new": `paired_bootstrap`'s result on that subset}.
    """
    repeats = np.asarray(repeats, dtype=bool)
    return {subset: paired_bootstrap({name: r[mask] for name, r in ranks_by_run.items()}, reference, k=k,
                                     resamples=resamples, seed=seed)
            for subset, mask in (("all", np.ones_like(repeats)), ("repeat", repeats), ("new", ~repeats))}


def difference_text(diff: dict, k: int = 20) -> str:
    """`paired_bootstrap`'s `minus_reference` as "+0.89 [+0.78, +0.99] / +0.36 [+0.23, +0.49]" (HR@k / MRR@k)."""
    return " / ".join(f"{diff[m]:+.2f} [{diff[m + '_ci95'][0]:+.2f}, {diff[m + '_ci95'][1]:+.2f}]"
                      for m in (f"hr@{k}", f"mrr@{k}"))


def measure_results(results_dir: str, datasets=None, resamples: int = 1000, seed: int = 0, log=print) -> str:
    """Paired bootstrap of every finished run of each dataset against its `tagnn` run.

    Checks that each run's `best.keras` reproduces the test HR@20 / MRR@20 its
    `result.json` reports, then writes `<results_dir>/test_uncertainty.json`
    and returns its path. Each dataset's entry carries the git commit and time
    it was computed at; the entries of datasets not in `datasets` are kept from
    the existing file, so one dataset can be rescored alone.
    """
    datasets = list(datasets or DATASETS)
    unknown = sorted(set(datasets) - set(DATASETS))
    if unknown:
        raise InputError(f"datasets must be among {list(DATASETS)}. Received: {unknown}")
    path = os.path.join(results_dir, "test_uncertainty.json")
    kept = {}
    if os.path.exists(path):
        previous = run_directory.read_json(path)
        for dataset, summary in previous.get("datasets", {}).items():
            if dataset not in datasets:
                # Files written before entries were stamped one by one: the file's own stamp.
                summary.setdefault("git_commit", previous["git_commit"])
                summary.setdefault("computed_at", previous["machine"]["time"])
                kept[dataset] = summary
    machine = run_directory.machine_info()
    commit = run_directory.git_commit()
    out = {"git_commit": commit, "machine": machine, "datasets": kept}
    for dataset in datasets:
        ranks, selected = {}, {}
        for d, name in PAPER_SUITE + DIAGNOSTICS_SUITE:
            run_dir = os.path.join(results_dir, d, name)
            if d != dataset or not os.path.exists(os.path.join(run_dir, run_directory.RESULT)):
                continue
            result = run_directory.read_json(os.path.join(run_dir, run_directory.RESULT))
            ranks[name] = run_target_ranks(run_dir)
            got = hit_and_mrr(ranks[name])
            for metric, value in got.items():
                if abs(value - result["test"][metric]) > 0.01:
                    raise InputError(f"{run_dir}/best.keras gives test {metric} {value:.4f}, but its result.json "
                                     f"says {result['test'][metric]}: the model file is not the selected epoch")
            selected[name] = result["selected_epoch"]
            log(f"{dataset}/{name}: epoch {selected[name]}, test HR@20 {got['hr@20']:.2f} MRR@20 {got['mrr@20']:.2f} "
                f"({len(ranks[name])} examples, matches result.json)")
        if "tagnn" not in ranks:
            log(f"{dataset}: no finished tagnn run, skipped")
            continue
        summary = paired_bootstrap(ranks, "tagnn", resamples=resamples, seed=seed)
        summary.update(git_commit=commit, computed_at=machine["time"])
        for name, row in summary["runs"].items():
            row["selected_epoch"] = selected[name]
            diff = row.get("minus_reference")
            log(f"{dataset}/{name}: HR@20 {row['hr@20']:.2f} {row['hr@20_ci95']}  MRR@20 {row['mrr@20']:.2f} "
                f"{row['mrr@20_ci95']}" + ("" if diff is None else
                                           f"  minus tagnn: HR@20 {diff['hr@20']:+.2f} {diff['hr@20_ci95']}, "
                                           f"MRR@20 {diff['mrr@20']:+.2f} {diff['mrr@20_ci95']}"))
        out["datasets"][dataset] = summary
    run_directory.write_json_atomic(path, out)
    return path
