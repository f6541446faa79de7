"""Fair tuning of every baseline (and TAGNN): one rule, stated budgets and search spaces.

Every method gets the same procedure: `budget` configurations from its search
space (try 0 = the reference implementation's defaults, or the paper's
configuration for TAGNN; the others drawn at random, seeded, without
replacement; the whole grid when it is smaller than the budget), each scored
on the validation split; the best try (validation `selection_metric`) is the
method's result, and its test metrics are reported.

Layout: `<results_dir>/<dataset>/<method>/`
  tuning.jsonl   one line per finished try: its overrides, validation
                 metrics, seconds (rerunning skips finished tries)
  best/          non-neural: the best try fitted on the training part (where
                 a neural try trains) as a full run directory (test metrics,
                 test_ranks.npz)
  try-<k>/       neural: each try is a trainer run directory (resumes from its
                 checkpoints); the best try is the result
  beyond_edge.jsonl, beyond-<field>-<value>/
                 `check_beyond_edges`: one try past each search-range end the
                 best try sits at (outside the budget; the result is unchanged)

Processes can share a method's tries: one skips a try that another live
process is training (its run directory's lock, `tagnn_tf.run_lock`) and
reads `tuning.jsonl` again before each try.

Non-neural tries are scored on validation only (test is evaluated once, for
the best); the trainer evaluates both every epoch and selects on validation.

Neural tries train with the sampled softmax (`TrainConfig.train_candidates=
"sampled"`, set by `experiments.tune_baselines --train_candidates`), TAGNN
included: the full softmax costs ~5x the CPU time per epoch (4.6x NARM,
5.8x STAMP on Yoochoose; the hours of 56 tries were not at hand), and `results/baselines_full_softmax/` holds the first
tries run with the full softmax beside their sampled repeats. BPR-MF and FPMC
keep their own BPR loss (one uniform negative per example).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from tagnn_tf import run_directory, run_lock
from tagnn_tf.arguments import check_choice
from tagnn_tf.model_registry import NEURAL_MODELS, NON_NEURAL_MODELS
from tagnn_tf.config import BaselineConfig, DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from tagnn_tf.errors import InputError

TUNING_LOG = "tuning.jsonl"
REFIT_EFFECT = "refit_effect.jsonl"
BEYOND_EDGE = "beyond_edge.jsonl"
BEST = "best"
# Values that stand for "no limit" (every session as the neighbour sample): above every other value.
UNBOUNDED = {"baseline.sample_size": 0}

_NEIGHBOURS = {"baseline.neighbours": [50, 100, 200, 500, 1000],
               "baseline.sample_size": [500, 1000, 2500, 5000, 0]}
_STAN = {**_NEIGHBOURS, "baseline.position_lambda": [0.5, 1.02, 2.0, 4.0, 8.0],
         "baseline.recency_lambda": [0.0, 0.01, 0.05, 0.2],
         "baseline.match_lambda": [0.5, 1.0, 2.05, 4.0, 8.0]}
_IDF = {"baseline.idf_lambda": [0.0, 0.5, 1.0, 2.0]}
_NEURAL = {"train.learning_rate": [1e-3, 5e-4, 2e-3], "train.l2": [1e-5, 0.0, 1e-4]}

# Named methods: a neural model with the repeat-explore mixture (`--repeat_mechanism=repeat_explore`),
# tuned like the model itself (the same search space, budget and seeded draw of tries). BPR-MF and FPMC
# train with BPR, which the mixture does not take.
REPEAT_METHODS = {f"{name}_repeat": name for name in ("tagnn", "srgnn", "gru4rec", "narm", "stamp")}
# The model (`--model`) each method trains or fits.
METHOD_MODELS = {**{name: name for name in NEURAL_MODELS + NON_NEURAL_MODELS}, **REPEAT_METHODS}
NEURAL_METHODS = tuple(name for name, model in METHOD_MODELS.items() if model in NEURAL_MODELS)

# Method -> {"section.field": values}. Try 0 is every field's default.
SEARCH_SPACES: Dict[str, Dict[str, list]] = {
    "pop": {}, "spop": {},
    "item_knn": {"baseline.shrink": [0.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0]},
    "sr": {"baseline.rule_steps": [1, 2, 3, 5, 10, 15, 20], "baseline.rule_weighting": ["div", "linear", "same"]},
    "sknn": _NEIGHBOURS, "vsknn": {**_NEIGHBOURS, **_IDF}, "stan": _STAN, "vstan": {**_STAN, **_IDF},
    **{name: _NEURAL for name in NEURAL_METHODS},
}
# Epochs of a neural try (TrainConfig.epochs; patience 3). The learning rate is 1e-5 from epoch 6
# (the official schedule): in the finished runs that trained 10 epochs, selecting among the first 6
# changes the selected test HR@20 by hundredths of a point (the report's "epoch cap" table).
TUNING_EPOCHS = 6
# A neural try's training protocol (`experiments.tune_baselines`' defaults): the sampled softmax and the
# official code's learning-rate schedule, named here so that the committed tunings keep it whatever
# `trainers.train`'s default.
TUNING_TRAIN = TrainConfig(epochs=TUNING_EPOCHS, train_candidates="sampled", lr_schedule="official")
# Tries per method: the kNN and rule methods are cheap (seconds to fit, tens of
# seconds to score the validation split on 2 cores); a neural try is a
# training run of up to 10 epochs (hours on 2 cores).
BUDGETS = {**{name: 20 for name in NON_NEURAL_MODELS}, **{name: 4 for name in NEURAL_METHODS}}
# Method-specific settings that are not tuned: BPR-MF and FPMC train with their own loss.
# BPR's pairs are its own sampling: those two never use the sampled softmax.
_BPR = {"train.loss": "bpr", "train.train_candidates": "full"}
FIXED = {"bpr_mf": _BPR, "fpmc": _BPR, "tagnn": {"model.readout": "paper"}}
FIXED.update({method: {**FIXED.get(model, {}), "model.repeat_mechanism": "repeat_explore"}
              for method, model in REPEAT_METHODS.items()})


def tries(method: str, seed: int = 0) -> List[dict]:
    """The method's `BUDGETS[method]` configurations: a list of {"section.field": value}, try 0 = defaults."""
    check_choice("method", method, tuple(SEARCH_SPACES))
    space = SEARCH_SPACES[method]
    budget = BUDGETS[method]
    names = sorted(space)
    grid = [dict(zip(names, values)) for values in itertools.product(*(space[n] for n in names))]
    defaults = _defaults(names)
    rest = [g for g in grid if g != defaults]
    if len(grid) > budget:
        order = np.random.default_rng(seed).permutation(len(rest))[:budget - 1]
        rest = [rest[i] for i in sorted(order)]
    return [defaults] + rest


def best_try(rows: Sequence[dict], metric: str = "hr@20") -> dict:
    """The tuning row with the best validation `metric` (the earliest try on ties)."""
    return max(rows, key=lambda r: (r["val"][metric], -r["try"]))


def range_edges(method: str, overrides: dict) -> List[dict]:
    """The numeric parameters of `overrides` at an end of the method's search range, and one step beyond.

    A range of at least 3 numbers counts; 0 at the bottom (no L2, no recency
    weighting) and an unbounded value (`UNBOUNDED`) are the parameter's own
    end. The step beyond repeats the ratio of the end to its neighbour in
    the range (learning rates [5e-4, 1e-3, 2e-3]: 2e-3 -> 4e-3; sample sizes
    [500, 1000, ...]: 500 -> 250), rounded for integer ranges.

    Returns: [{"name", "end" ("top" or "bottom"), "value", "beyond"}], by name.
    """
    out = []
    for name, values in sorted(SEARCH_SPACES[method].items()):
        value = overrides.get(name)
        if (len(values) < 3 or not all(isinstance(v, (int, float)) for v in values)
                or value is None or UNBOUNDED.get(name) == value):
            continue
        ranked = sorted(values, key=lambda v, n=name: float("inf") if UNBOUNDED.get(n) == v else v)
        if value not in (ranked[0], ranked[-1]) or (value == ranked[0] and value == 0):
            continue
        end, inner = ("top", ranked[-2]) if value == ranked[-1] else ("bottom", ranked[1])
        beyond = float(f"{value * value / inner if inner else 2 * value:.6g}")
        if all(isinstance(v, int) for v in values):
            beyond = max(1, int(round(beyond)))
        out.append({"name": name, "end": end, "value": value, "beyond": beyond})
    return out


def check_all_beyond_edges(results_dir: str, datasets: Sequence[str], methods: Sequence[str], data_dir: str,
                           valid_split: str, train: Optional[TrainConfig] = None,
                           log: Callable = print) -> Dict[str, List[dict]]:
    """`check_beyond_edges` for every dataset: {dataset: rows}."""
    return _each_dataset(check_beyond_edges, results_dir, datasets, data_dir, valid_split, methods, train, log=log)


def check_beyond_edges(dataset_dir: str, data: DataConfig, methods: Sequence[str],
                       train: Optional[TrainConfig] = None, log: Callable = print) -> List[dict]:
    """One try beyond each range end that a complete tuning's best sits at; the tuning's result is unchanged.

    For each method in `methods` whose tuning is complete and whose best try
    takes an end of a numeric range (`range_edges`), the best configuration
    with that parameter one step beyond the end is fitted (non-neural) or
    trained (neural, run directory `beyond-<field>-<value>/`, resumable)
    on the training part, and scored on validation and test. One row per
    (method, parameter) is appended to `<dataset_dir>/<method>/beyond_edge.jsonl`
    (rows there are skipped on rerun). This checks the search ranges; it is
    outside the budget, so it never changes a method's selected try.
    Returns the rows of every method in `methods`.
    """
    from tagnn_tf.data.datasets import load_splits

    splits, out = None, []
    for method in methods:
        check_choice("method", method, tuple(SEARCH_SPACES))
        folder = os.path.join(dataset_dir, method)
        rows = run_directory.read_jsonl(os.path.join(folder, TUNING_LOG))
        if len(rows) < len(tries(method)):
            log(f"{data.dataset} {method}: tuning not complete; no check beyond its ranges")
            continue
        best = best_try(rows)
        path = os.path.join(folder, BEYOND_EDGE)
        for edge in range_edges(method, best["overrides"]):
            if any(r["name"] == edge["name"] for r in run_directory.read_jsonl(path)):
                continue
            run_dir = os.path.join(folder, f"beyond-{edge['name'].split('.')[1]}-{edge['beyond']:g}")
            holder = run_lock.live_claim(run_dir)
            if holder is not None:
                log(f"{data.dataset} {method} beyond {edge['name']}: {holder}; skipped")
                continue
            splits = splits or load_splits(data)
            overrides = {**best["overrides"], edge["name"]: edge["beyond"]}
            config = try_config(method, overrides, data, train)
            started = time.perf_counter()
            if method in NON_NEURAL_MODELS:
                from tagnn_tf.baselines.baseline_run import fit_and_score
                result = fit_and_score(config, splits, log=lambda *_: None)
            else:
                from tagnn_tf.training.trainer import train as train_run
                result = train_run(config, run_dir, log=log, splits=splits)
            row = {**edge, "best_try": best["try"], "overrides": overrides, "val": result["val"],
                   "test": result["test"], "selected_epoch": result.get("selected_epoch"),
                   "seconds": round(time.perf_counter() - started, 2)}
            run_directory.append_jsonl(path, row)
            log(f"{data.dataset} {method} {edge['name']} {edge['value']} -> {edge['beyond']:g}: val HR@20 "
                f"{best['val']['hr@20']:.2f} -> {row['val']['hr@20']:.2f}")
        out += [{"method": method, **r} for r in run_directory.read_jsonl(path)]
    return out


def result_dir(method: str, best: dict) -> str:
    """The run directory, inside the method's folder, that holds a tuning's result for its `best` try row."""
    return BEST if method in NON_NEURAL_MODELS else f"try-{best['try']}"


def _defaults(names: Sequence[str]) -> dict:
    sections = {"model": ModelConfig(), "train": TrainConfig(), "baseline": BaselineConfig()}
    return {n: getattr(sections[n.split(".")[0]], n.split(".")[1]) for n in names}


def try_config(method: str, overrides: dict, data: DataConfig, train: Optional[TrainConfig] = None) -> ExperimentConfig:
    """The ExperimentConfig of one try."""
    values = {"model": {"name": METHOD_MODELS[method]}, "data": dataclasses.asdict(data),
              "train": dataclasses.asdict(train or TrainConfig()), "baseline": {}}
    for name, value in {**FIXED.get(method, {}), **overrides}.items():
        section, field = name.split(".")
        values[section][field] = value
    return ExperimentConfig.from_dict(values)


# The fields two runs of one protocol may differ in: where the data lies, the catalogue size the trainer
# records, and how often a run checkpoints.
_NOT_PROTOCOL = {"data.data_dir", "data.num_items", "train.checkpoint_every_steps"}


def protocol_differences(recorded: ExperimentConfig, expected: ExperimentConfig) -> List[str]:
    """The `section.field` names whose values differ between two runs' configurations, outside `_NOT_PROTOCOL`."""
    out = []
    for section in ("model", "data", "train", "baseline"):
        a, b = dataclasses.asdict(getattr(recorded, section)), dataclasses.asdict(getattr(expected, section))
        out += [f"{section}.{k}={a.get(k)!r} (expected {b.get(k)!r})" for k in sorted(set(a) | set(b))
                if a.get(k) != b.get(k) and f"{section}.{k}" not in _NOT_PROTOCOL]
    return out


def check_finished_try(run_dir: str, config: ExperimentConfig) -> None:
    """Refuses a finished neural try trained with another protocol than `config` (another `--epochs`,
    `--train_candidates` or `--lr_schedule` over the same `--results_dir`): its row would be mixed silently
    into the new tuning."""
    if not os.path.exists(os.path.join(run_dir, run_directory.CONFIG)):
        return
    differences = protocol_differences(run_directory.read_config(run_dir), config)
    if differences:
        raise InputError(f"{run_dir}: this try was trained with another configuration ({', '.join(differences)}); "
                         "a tuning's tries share one protocol: give this one its own --results_dir")


def tune(method: str, dataset_dir: str, data: DataConfig, train: Optional[TrainConfig] = None,
         max_tries: int = 0, log: Callable = print) -> dict:
    """Runs (or resumes) the method's tries in `dataset_dir/<method>/`; returns the best try's summary.

    `max_tries` > 0 stops after the plan's first that many tries (a session
    short of time; rerun without it to finish the budget): the summary then
    says `complete: false`.
    """
    from tagnn_tf.data.datasets import load_splits

    folder = os.path.join(dataset_dir, method)
    os.makedirs(folder, exist_ok=True)
    log_path = os.path.join(folder, TUNING_LOG)
    plan = tries(method)
    splits = load_splits(data)
    held = []
    for k, overrides in enumerate(plan):
        # Read again before each try: another process may share this method's tries.
        done = {r["try"]: r for r in run_directory.read_jsonl(log_path)}
        if k in done and method not in NON_NEURAL_MODELS:
            check_finished_try(os.path.join(folder, f"try-{k}"), try_config(method, overrides, data, train))
        if k in done or (max_tries and k >= max_tries):
            continue
        holder = run_lock.live_claim(os.path.join(folder, f"try-{k}"))
        if holder is not None:  # another process trains it; take the next try
            held.append(k)
            log(f"{data.dataset} {method} try {k}: {holder}; skipped")
            continue
        config = try_config(method, overrides, data, train)
        started = time.perf_counter()
        if method in NON_NEURAL_MODELS:
            from tagnn_tf.baselines.baseline_run import fit_and_score
            val = fit_and_score(config, splits, log=lambda *_: None, score=("val",))["val"]
            row = {"try": k, "overrides": overrides, "val": val, "seconds": round(time.perf_counter() - started, 2)}
        else:
            from tagnn_tf.training.trainer import train as train_run
            result = train_run(config, os.path.join(folder, f"try-{k}"), log=log, splits=splits)
            row = {"try": k, "overrides": overrides, "val": result["val"], "selected_epoch": result["selected_epoch"],
                   "seconds": round(time.perf_counter() - started, 2)}
        run_directory.append_jsonl(log_path, row)
        done[k] = row
        log(f"{data.dataset} {method} try {k}/{len(plan) - 1} {overrides}: val "
            f"{row['val'][config.train.selection_metric]:.2f} ({row['seconds']:.0f}s)")
    done = {r["try"]: r for r in run_directory.read_jsonl(log_path)}
    if not done:
        raise InputError(f"No finished try of {method} in {folder}: tries {held} are being trained by other "
                         "processes. Rerun once they finish.")
    metric = (train or TrainConfig()).selection_metric
    best = best_try([done[k] for k in range(len(plan)) if k in done], metric)
    if method in NON_NEURAL_MODELS:
        from tagnn_tf.baselines.baseline_run import fit_baseline
        final = try_config(method, {**best["overrides"], "baseline.fit_on": "train"}, data, train)
        best_dir = os.path.join(folder, BEST)
        resolved = dataclasses.replace(final, data=dataclasses.replace(final.data, num_items=splits.num_items))
        if (os.path.exists(os.path.join(best_dir, run_directory.CONFIG))
                and run_directory.read_config(best_dir) != resolved):
            shutil.rmtree(best_dir)  # an unfinished tuning's best so far (a later try beat it), or an older fit
        result = {**fit_baseline(final, os.path.join(folder, BEST), log=log, splits=splits), "val": best["val"]}
    else:
        result = run_directory.read_json(os.path.join(folder, result_dir(method, best), run_directory.RESULT))
    return {"method": method, "best_try": best["try"], "tries": len(plan), "tries_done": len(done),
            "complete": len(done) >= len(plan), "run_dir": result_dir(method, best),
            "overrides": best["overrides"], "val": result["val"], "test": result["test"]}


def tune_all(results_dir: str, datasets: Sequence[str], methods: Sequence[str], data_dir: str,
             valid_split: str, train: Optional[TrainConfig] = None, max_tries: int = 0,
             log: Callable = print) -> List[dict]:
    """`tune` for every (dataset, method), datasets outer; returns the summaries."""
    for method in methods:
        check_choice("method", method, tuple(SEARCH_SPACES))
    if not datasets or not methods:
        raise InputError(f"Nothing to tune. Received: datasets={list(datasets)}, methods={list(methods)}")
    out = []
    for dataset in datasets:
        data = DataConfig(dataset=dataset, data_dir=data_dir, valid_split=valid_split)
        for method in methods:
            out.append({"dataset": dataset, **tune(method, os.path.join(results_dir, dataset), data, train,
                                                    max_tries, log=log)})
    return out


def measure_refit_effect(results_dir: str, datasets: Sequence[str], methods: Sequence[str], data_dir: str,
                         valid_split: str, log: Callable = print) -> Dict[str, List[dict]]:
    """`dataset_refit_effect` for every dataset: {dataset: rows}."""
    return _each_dataset(dataset_refit_effect, results_dir, datasets, data_dir, valid_split, methods, log=log)


def _each_dataset(measure: Callable, results_dir: str, datasets: Sequence[str], data_dir: str, valid_split: str,
                  *args, **kwargs) -> Dict[str, List[dict]]:
    """{dataset: measure(<results_dir>/<dataset>, its DataConfig, *args, **kwargs)}."""
    return {dataset: measure(os.path.join(results_dir, dataset),
                             DataConfig(dataset=dataset, data_dir=data_dir, valid_split=valid_split), *args, **kwargs)
            for dataset in datasets}


def dataset_refit_effect(dataset_dir: str, data: DataConfig, methods: Sequence[str],
                         log: Callable = print) -> List[dict]:
    """Each tuned non-neural method's best configuration refitted on all training sessions, scored on test.

    Every method's reported test score is of a model fitted on the training
    part (the neural tries train there; refitting them costs a training run
    each). This measures what a refit on all training sessions (training +
    validation part) adds to the non-neural ones: one row per method appended to
    `<dataset_dir>/refit_effect.jsonl` (methods already there, neural ones and
    incomplete tunings are skipped). Returns the file's rows.
    """
    from tagnn_tf.baselines.baseline_run import fit_and_score
    from tagnn_tf.data.datasets import load_splits

    path = os.path.join(dataset_dir, REFIT_EFFECT)
    done = {r["method"] for r in run_directory.read_jsonl(path)}
    splits = None
    for method in methods:
        folder = os.path.join(dataset_dir, method)
        rows = run_directory.read_jsonl(os.path.join(folder, TUNING_LOG))
        result_path = os.path.join(folder, BEST, run_directory.RESULT)
        if (method in done or method not in NON_NEURAL_MODELS or len(rows) < len(tries(method))
                or not os.path.exists(result_path)
                or run_directory.read_config(os.path.join(folder, BEST)).baseline.fit_on != "train"):
            continue  # nothing to measure, or measured, or a best/ of an older protocol (rerun the tuning)
        splits = splits or load_splits(data)
        best = best_try(rows)
        config = try_config(method, {**best["overrides"], "baseline.fit_on": "train_and_valid"}, data)
        out = fit_and_score(config, splits, log=lambda *_: None, score=("test",))
        row = {"method": method, "overrides": best["overrides"],
               "test_fit_on_train": run_directory.read_json(result_path)["test"], "test_refit": out["test"]}
        run_directory.append_jsonl(path, row)
        log(f"{data.dataset} {method}: test HR@20 {row['test_fit_on_train']['hr@20']:.2f} fitted on the training "
            f"part, {out['test']['hr@20']:.2f} refitted")
    return run_directory.read_jsonl(path)
