"""Learning-rate schedules against the official code's, measured for `trainers.train`'s default.

  python -m experiments.lr_schedule_default --results_dir=results --datasets=yoochoose1_64,diginetica \
      --schedules=paper,linear,plateau,validated

The official code decays the learning rate one epoch earlier than the paper
says (x0.1 after epochs 2, 5, ... instead of 3, 6, ...; TAGNN_SPEC.md);
`TrainConfig.lr_schedule` also offers a validation-driven decay (`plateau`),
a linear fall to 0 over the epoch budget (`linear`) and the official decays
kept only where validation prefers them (`validated`). For each dataset and
each schedule of `--schedules` this trains the fair tuning's try 0 of TAGNN +
repeat-explore (`experiments.tune_baselines_lib`: `time` split, sampled
softmax, 6 epochs, the same seed) with that schedule into
`<results_dir>/lr_schedule/<dataset>/tagnn_repeat-<schedule>-lr/`
(resumable), and compares it with the tuning's own try 0, trained with the
official schedule (`<results_dir>/baselines/<dataset>/tagnn_repeat/try-0/`,
which must be finished): test HR@20 / MRR@20 overall, on the labels that
repeat a session item and on the others, each with the paired bootstrap of
schedule minus official (`experiments.measure_uncertainty_lib`). Writes
`<results_dir>/lr_schedule/lr_schedule.json` (the machine and the commit with
it); `experiments.make_report` renders it.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Dict, Sequence

import numpy as np

from experiments.tune_baselines_lib import TUNING_TRAIN
from tagnn_tf.arguments import LR_SCHEDULES
from tagnn_tf.config import DataConfig
from tagnn_tf.errors import InputError

SCHEDULE_DIR = "lr_schedule"
SCHEDULE_FILE = "lr_schedule.json"
METHOD = "tagnn_repeat"
REFERENCE = "official"
CANDIDATES = tuple(s for s in LR_SCHEDULES if s != REFERENCE)
DESCRIPTIONS = {"official": "1e-3 for epochs 1-2, 1e-4 for 3-5, 1e-5 for 6: the tuning's own run",
                "paper": "1e-3 for epochs 1-3, 1e-4 for 4-6",
                "plateau": "x0.1 after each epoch whose validation HR@20 is not above the best before it",
                "linear": f"from 1e-3 batch by batch to 0 at the end of epoch {TUNING_TRAIN.epochs}",
                "validated": "the official decays (before epochs 3 and 6), each kept only where validation prefers "
                             "it (that epoch trained both ways from the same checkpoint)"}


def run_name(schedule: str) -> str:
    return f"{METHOD}-{schedule}-lr"


def reference_dir(results_dir: str, dataset: str) -> str:
    """The tuning's try 0 of TAGNN + repeat-explore: the official schedule's run."""
    return os.path.join(results_dir, "baselines", dataset, METHOD, "try-0")


def compare_runs(ranks: Dict[str, np.ndarray], repeats: np.ndarray) -> dict:
    """Each schedule's run minus the official one on every test label, the repeat labels and the others.

    Args:
      ranks: {schedule: int `[test examples]` 1-based ranks, test-file order}, `official` among them.
      repeats: bool `[test examples]`, the label is an item of its session.

    Returns:
      {subset: {"examples", "runs": {schedule: {"hr@20", "mrr@20"}}, "minus_official": {schedule: {"hr@20",
      "hr@20_ci95", "hr@20_share_above_0", same for mrr@20}}}} for subset in all, repeat, new (paired
      bootstrap); values in %.
    """
    from experiments.measure_uncertainty_lib import paired_by_subset

    if REFERENCE not in ranks or len({len(r) for r in ranks.values()} | {len(repeats)}) != 1:
        raise InputError("Every run, the official schedule's among them, must rank every test example. Received: "
                         + ", ".join(f"{name}: {len(r)}" for name, r in ranks.items())
                         + f" ranks for {len(repeats)} test examples")
    out = {}
    for subset, boot in paired_by_subset(ranks, REFERENCE, repeats).items():
        runs = boot["runs"]
        out[subset] = {"examples": boot["examples"],
                       "runs": {name: {k: runs[name][k] for k in ("hr@20", "mrr@20")} for name in ranks},
                       "minus_official": {name: runs[name]["minus_reference"] for name in ranks
                                          if name != REFERENCE}}
    return out


def _check_run(run_dir: str, expected) -> None:
    """Raises unless the run at `run_dir` was trained with `expected`'s configuration (data location aside)."""
    from experiments.tune_baselines_lib import protocol_differences
    from tagnn_tf import run_directory

    differences = protocol_differences(run_directory.read_config(run_dir), expected)
    if differences:
        raise InputError(f"{run_dir}: not trained with the configuration this comparison needs (the tuning "
                         f"protocol's try 0 of {METHOD}, lr_schedule={expected.train.lr_schedule!r}, "
                         f"item_norm_scale={expected.model.item_norm_scale!r}, "
                         f"repeat_gate={expected.model.repeat_gate!r}): " + ", ".join(differences))


def official_try(results_dir: str, dataset: str, data_dir: str):
    """The tuning's try 0 of TAGNN + repeat-explore on `dataset`: (its configuration, its finished run's folder)."""
    from experiments.tune_baselines_lib import tries, try_config
    from tagnn_tf import run_directory

    reference = reference_dir(results_dir, dataset)
    if not os.path.exists(os.path.join(reference, run_directory.RESULT)):
        raise InputError(f"{reference}: not a finished run; run experiments.tune_baselines --methods={METHOD} "
                         f"--datasets={dataset} first (its try 0 is the official schedule's run)")
    official = try_config(METHOD, tries(METHOD)[0], DataConfig(dataset=dataset, data_dir=data_dir,
                                                               valid_split="time"), TUNING_TRAIN)
    _check_run(reference, official)
    return official, reference


def measure_runs(results_dir: str, dataset: str, data_dir: str, reference: str, runs: Dict[str, tuple],
                 log: Callable = print) -> dict:
    """Trains (or resumes) each of `runs` ({name: (configuration, run folder)}) and compares it with the tuning's
    try 0 (`REFERENCE`, its folder `reference` from `official_try`): the runs' folders, the test repeat share,
    each run's curve and `compare_runs`."""
    from tagnn_tf import run_directory
    from tagnn_tf.data.sessions import load_test_examples
    from tagnn_tf.training.trainer import train as train_run

    folders = {REFERENCE: reference}
    for name, (config, folder) in runs.items():
        if not os.path.exists(os.path.join(folder, run_directory.RESULT)):
            train_run(config, folder, log=log)
        _check_run(folder, config)
        folders[name] = folder
    repeats = load_test_examples(os.path.join(data_dir, dataset)).label_repeats()
    curves = {name: [{"epoch": r["epoch"], "val_hr@20": r["val"]["hr@20"], "test_hr@20": r["test"]["hr@20"]}
                     for r in run_directory.read_jsonl(os.path.join(folder, run_directory.METRICS))]
              for name, folder in folders.items()}
    return {"runs": {name: os.path.relpath(folder, results_dir) for name, folder in folders.items()},
            "repeat_share": round(100.0 * float(repeats.mean()), 4), "curves": curves,
            "test": compare_runs({name: run_directory.read_test_ranks(folder) for name, folder in folders.items()},
                                 repeats)}


def measure_model_variants(results_dir: str, dataset: str, data_dir: str, folder: str, variants: Dict[str, dict],
                           log: Callable = print) -> dict:
    """`measure_runs` for runs that each change `ModelConfig` fields of the tuning's try 0: `variants` is
    {run name: {field: value}}; each run goes to `<results_dir>/<folder>/<dataset>/<run name>/`."""
    official, reference = official_try(results_dir, dataset, data_dir)
    runs = {name: (dataclasses.replace(official, model=dataclasses.replace(official.model, **fields)),
                   os.path.join(results_dir, folder, dataset, name)) for name, fields in variants.items()}
    return measure_runs(results_dir, dataset, data_dir, reference, runs, log=log)


def check_dataset(results_dir: str, dataset: str, data_dir: str, schedules: Sequence[str] = CANDIDATES,
                  log: Callable = print) -> dict:
    """Trains (or resumes) each of `schedules`' runs of `dataset` and compares them with the tuning's try 0."""
    unknown = [s for s in schedules if s not in CANDIDATES]
    if unknown or not schedules:
        raise InputError(f"Schedules to compare with the official one: some of {list(CANDIDATES)}. "
                         f"Received: {list(schedules)}")
    official, reference = official_try(results_dir, dataset, data_dir)
    runs = {schedule: (dataclasses.replace(official, train=dataclasses.replace(official.train, lr_schedule=schedule)),
                       os.path.join(results_dir, SCHEDULE_DIR, dataset, run_name(schedule)))
            for schedule in schedules}
    return measure_runs(results_dir, dataset, data_dir, reference, runs, log=log)


def record_checks(path: str, datasets: Sequence[str], check: Callable[[str], dict], against: str,
                  log: Callable = print) -> str:
    """`check(dataset)` for each of `datasets`, each entry recorded with the commit and the machine in the JSON
    at `path` (the entries of datasets not in `datasets` are kept from the existing file); logs each run
    minus the reference (`against` names it). Returns `path`."""
    from tagnn_tf import run_directory

    out = run_directory.read_json(path) if os.path.exists(path) else {"datasets": {}}
    for dataset in datasets:
        entry = check(dataset)
        entry.update(git_commit=run_directory.git_commit(), machine=run_directory.machine_info())
        out["datasets"][dataset] = entry
        for name, diff in entry["test"]["all"]["minus_official"].items():
            log(f"{dataset}: {name} minus {against}, test HR@20 {diff['hr@20']:+.2f} "
                f"{diff['hr@20_ci95']}, MRR@20 {diff['mrr@20']:+.2f} {diff['mrr@20_ci95']}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    run_directory.write_json_atomic(path, out)
    return path


def run_check(results_dir: str, datasets: Sequence[str], data_dir: str, schedules: Sequence[str] = CANDIDATES,
              log: Callable = print) -> str:
    """`check_dataset` for each of `datasets`; writes and returns `<results_dir>/lr_schedule/lr_schedule.json`
    (`record_checks`)."""
    return record_checks(os.path.join(results_dir, SCHEDULE_DIR, SCHEDULE_FILE), datasets,
                         lambda dataset: check_dataset(results_dir, dataset, data_dir, schedules, log=log),
                         "official schedule", log)


def not_below(entry: dict, schedule: str) -> bool:
    """`schedule` does not lose to the official one on all labels beyond what the test set resolves: the upper
    end of both paired intervals (HR@20, MRR@20) is at or above 0."""
    diff = entry["test"]["all"]["minus_official"][schedule]
    return diff["hr@20_ci95"][1] >= 0 and diff["mrr@20_ci95"][1] >= 0


def selected_val(curve: list) -> float:
    """The validation HR@20 of the epoch validation selects (the best; the earliest on ties)."""
    return max(row["val_hr@20"] for row in curve)


def variant_rows(datasets: dict, reference: str, variant: str) -> tuple:
    """The report's rows for runs that each change one thing of the tuning's try 0 (`measure_runs`' entries,
    {dataset: entry}): one row per dataset, run and subset (all, repeat, new), under the header this returns,
    whose columns `reference` and `variant` name.

    Returns:
      (lines: header and rows, verdicts: "<dataset> `<run>`: not below|below" per run, below: the datasets where
      a run is below the reference, `not_below`).
    """
    from experiments.measure_uncertainty_lib import difference_text

    lines = [f"| dataset | labels | {reference} | run | {variant} | minus {reference} | validation HR@20: "
             f"{reference} / {variant} |", "|---|---|---|---|---|---|---|"]
    verdicts, below = [], set()
    for dataset, entry in datasets.items():
        for name in entry["test"]["all"]["minus_official"]:
            for subset in ("all", "repeat", "new"):
                row = entry["test"][subset]
                theirs, mine = row["runs"][REFERENCE], row["runs"][name]
                val = (f"{selected_val(entry['curves'][REFERENCE]):.2f} / {selected_val(entry['curves'][name]):.2f}"
                       if subset == "all" else "")
                lines.append(f"| {dataset} | {subset} ({row['examples']:,}) | {theirs['hr@20']:.2f} / "
                             f"{theirs['mrr@20']:.2f} | `{name}` | {mine['hr@20']:.2f} / {mine['mrr@20']:.2f} | "
                             f"{difference_text(row['minus_official'][name])} | {val} |")
            level = not_below(entry, name)
            verdicts.append(f"{dataset} `{name}`: {'not below' if level else 'below'}")
            if not level:
                below.add(dataset)
    return lines, verdicts, below


def report_lines(results_dir: str) -> list:
    """The report's section (results/README.md), from `lr_schedule.json`; [] when it is not there."""
    from experiments.measure_uncertainty_lib import difference_text
    from tagnn_tf import run_directory
    from tagnn_tf.config import TRAINER_LR_SCHEDULE, TrainConfig

    path = os.path.join(results_dir, SCHEDULE_DIR, SCHEDULE_FILE)
    if not os.path.exists(path):
        return []
    datasets = run_directory.read_json(path)["datasets"]
    schedules = [s for s in CANDIDATES if any(s in e["test"]["all"]["minus_official"] for e in datasets.values())]
    lines = ["## The learning-rate schedule (`python -m experiments.lr_schedule_default`)", "",
             "TAGNN + repeat-explore, the fair tuning's try 0 (`time` split, sampled softmax, 6 epochs, seed 2020, "
             "base rate 1e-3), trained with each schedule against the same try with the official code's ("
             + DESCRIPTIONS[REFERENCE] + "): " + "; ".join(f"`{s}`: {DESCRIPTIONS[s]}" for s in schedules)
             + ". Test HR@20 / MRR@20 at the validation-selected epoch; schedule minus official with the paired "
             "bootstrap's 95% interval (1,000 draws); the validation HR@20 each run selected its epoch on:", "",
             "| dataset | labels | official | schedule | schedule's run | minus official | "
             "validation HR@20: official / schedule |", "|---|---|---|---|---|---|---|"]
    for dataset, entry in datasets.items():
        for schedule in schedules:
            if schedule not in entry["test"]["all"]["minus_official"]:
                continue
            for subset in ("all", "repeat", "new"):
                row = entry["test"][subset]
                official, mine = row["runs"][REFERENCE], row["runs"][schedule]
                val = (f"{selected_val(entry['curves'][REFERENCE]):.2f} / "
                       f"{selected_val(entry['curves'][schedule]):.2f}" if subset == "all" else "")
                lines.append(f"| {dataset} | {subset} ({row['examples']:,}) | {official['hr@20']:.2f} / "
                             f"{official['mrr@20']:.2f} | {schedule} | {mine['hr@20']:.2f} / {mine['mrr@20']:.2f} | "
                             f"{difference_text(row['minus_official'][schedule])} | {val} |")
    lines.append("")
    qualified = []
    for schedule in schedules:
        entries = {d: e for d, e in datasets.items() if schedule in e["test"]["all"]["minus_official"]}
        verdicts = "; ".join(f"{d}: {'not below' if not_below(e, schedule) else 'below'}" for d, e in entries.items())
        if len(entries) == len(datasets) and all(not_below(e, schedule) for e in entries.values()):
            qualified.append(schedule)
        lines.append(f"- `{schedule}` against the official schedule on all labels (below = an interval entirely "
                     f"under 0): {verdicts}.")
    lines += ["", "Not below the official schedule on every log: "
              + (", ".join(f"`{s}`" for s in qualified) if qualified else "none") + f". `trainers.train`'s default "
              f"(`config.TRAINER_LR_SCHEDULE`) is `{TRAINER_LR_SCHEDULE}`, `TrainConfig.lr_schedule`'s "
              f"`{TrainConfig().lr_schedule}`; the reproduction and the fair tuning keep the official code's; any "
              "other schedule is a choice to make on validation (`--lr_schedule`)."]
    return lines + [""]


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("results_dir", "results", "Holds baselines/<dataset>/tagnn_repeat/try-0; the runs and "
                        "lr_schedule.json go to its lr_schedule/.")
    flags.DEFINE_list("datasets", ["yoochoose1_64", "diginetica"], "Datasets to check.")
    flags.DEFINE_list("schedules", list(CANDIDATES), f"Schedules to compare with the official one: some of "
                      f"{list(CANDIDATES)}.")
    flags.DEFINE_string("data_dir", "../shared/data", "Dataset folders.")
    FLAGS = flags.FLAGS

    def _main(argv):
        from tagnn_tf.cli import run_or_exit

        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
        print(run_or_exit(run_check, FLAGS.results_dir, FLAGS.datasets, FLAGS.data_dir, FLAGS.schedules))

    app.run(_main)
