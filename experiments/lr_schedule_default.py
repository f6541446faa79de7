"""The paper's learning-rate schedule against the official code's, measured for `trainers.train`'s default.

  python -m experiments.lr_schedule_default --results_dir=results --datasets=yoochoose1_64,diginetica

The official code decays the learning rate one epoch earlier than the paper
says (x0.1 after epochs 2, 5, ... instead of 3, 6, ...; TAGNN_SPEC.md). For
each dataset this trains the fair tuning's try 0 of TAGNN + repeat-explore
(`experiments.tune_baselines_lib`: `time` split, sampled softmax, 6 epochs,
the same seed) with the paper's schedule into
`<results_dir>/lr_schedule/<dataset>/tagnn_repeat-paper-lr/` (resumable), and
compares it with the tuning's own try 0, trained with the official schedule
(`<results_dir>/baselines/<dataset>/tagnn_repeat/try-0/`, which must be
finished): test HR@20 / MRR@20 overall, on the labels that repeat a session
item and on the others, each with the paired bootstrap of paper minus official
(`experiments.measure_uncertainty_lib`). Writes
`<results_dir>/lr_schedule/lr_schedule.json` (the machine and the commit with
it); `experiments.make_report` renders it.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Sequence

import numpy as np

from experiments.tune_baselines_lib import TUNING_TRAIN
from tagnn_tf.config import DataConfig
from tagnn_tf.errors import InputError

SCHEDULE_DIR = "lr_schedule"
SCHEDULE_FILE = "lr_schedule.json"
METHOD = "tagnn_repeat"
RUN_NAME = f"{METHOD}-paper-lr"


def reference_dir(results_dir: str, dataset: str) -> str:
    """The tuning's try 0 of TAGNN + repeat-explore: the official schedule's run."""
    return os.path.join(results_dir, "baselines", dataset, METHOD, "try-0")


def compare_runs(official_ranks: np.ndarray, paper_ranks: np.ndarray, repeats: np.ndarray) -> dict:
    """Paper minus official on every test label, the repeat labels and the others (paired bootstrap).

    Args:
      official_ranks, paper_ranks: int `[test examples]` 1-based ranks, test-file order.
      repeats: bool `[test examples]`, the label is an item of its session.

    Returns:
      {subset: {"examples", "official": {hr@20, mrr@20}, "paper": {...}, "paper_minus_official": {"hr@20",
      "hr@20_ci95", "hr@20_share_above_0", same for mrr@20}}} for subset in all, repeat, new; values in %.
    """
    from experiments.measure_uncertainty_lib import paired_by_subset

    if not len(official_ranks) == len(paper_ranks) == len(repeats):
        raise InputError("Both runs must rank every test example. Received: "
                         f"{len(official_ranks)}, {len(paper_ranks)} ranks for {len(repeats)} test examples")
    out = {}
    for subset, boot in paired_by_subset({"official": official_ranks, "paper": paper_ranks}, "official",
                                         repeats).items():
        runs = boot["runs"]
        out[subset] = {"examples": boot["examples"],
                       **{name: {k: runs[name][k] for k in ("hr@20", "mrr@20")} for name in ("official", "paper")},
                       "paper_minus_official": runs["paper"]["minus_reference"]}
    return out


def _check_run(run_dir: str, expected) -> None:
    """Raises unless the run at `run_dir` was trained with `expected`'s configuration (data location aside)."""
    from experiments.tune_baselines_lib import protocol_differences
    from tagnn_tf import run_directory

    differences = protocol_differences(run_directory.read_config(run_dir), expected)
    if differences:
        raise InputError(f"{run_dir}: not trained with the configuration this comparison needs (the tuning "
                         f"protocol's try 0 of {METHOD}, lr_schedule={expected.train.lr_schedule!r}): "
                         + ", ".join(differences))


def check_dataset(results_dir: str, dataset: str, data_dir: str, log: Callable = print) -> dict:
    """Trains (or resumes) the paper-schedule run of `dataset` and compares it with the tuning's try 0."""
    from experiments.tune_baselines_lib import tries, try_config
    from tagnn_tf import run_directory
    from tagnn_tf.data.sessions import load_test_examples
    from tagnn_tf.training.trainer import train as train_run

    reference = reference_dir(results_dir, dataset)
    if not os.path.exists(os.path.join(reference, run_directory.RESULT)):
        raise InputError(f"{reference}: not a finished run; run experiments.tune_baselines --methods={METHOD} "
                         f"--datasets={dataset} first (its try 0 is the official schedule's run)")
    data = DataConfig(dataset=dataset, data_dir=data_dir, valid_split="time")
    official = try_config(METHOD, tries(METHOD)[0], data, TUNING_TRAIN)
    paper = dataclasses.replace(official, train=dataclasses.replace(official.train, lr_schedule="paper"))
    _check_run(reference, official)
    run_dir = os.path.join(results_dir, SCHEDULE_DIR, dataset, RUN_NAME)
    if not os.path.exists(os.path.join(run_dir, run_directory.RESULT)):
        train_run(paper, run_dir, log=log)
    _check_run(run_dir, paper)
    repeats = load_test_examples(os.path.join(data_dir, dataset)).label_repeats()
    curves = {name: [{"epoch": r["epoch"], "val_hr@20": r["val"]["hr@20"], "test_hr@20": r["test"]["hr@20"]}
                     for r in run_directory.read_jsonl(os.path.join(folder, run_directory.METRICS))]
              for name, folder in (("official", reference), ("paper", run_dir))}
    return {"official_run": os.path.relpath(reference, results_dir), "paper_run": os.path.relpath(run_dir, results_dir),
            "repeat_share": round(100.0 * float(repeats.mean()), 4), "curves": curves,
            "test": compare_runs(run_directory.read_test_ranks(reference), run_directory.read_test_ranks(run_dir),
                                 repeats)}


def run_check(results_dir: str, datasets: Sequence[str], data_dir: str, log: Callable = print) -> str:
    """`check_dataset` for each of `datasets`; writes and returns `<results_dir>/lr_schedule/lr_schedule.json`.

    The entries of datasets not in `datasets` are kept from the existing file."""
    from tagnn_tf import run_directory

    path = os.path.join(results_dir, SCHEDULE_DIR, SCHEDULE_FILE)
    out = run_directory.read_json(path) if os.path.exists(path) else {"datasets": {}}
    for dataset in datasets:
        entry = check_dataset(results_dir, dataset, data_dir, log=log)
        entry.update(git_commit=run_directory.git_commit(), machine=run_directory.machine_info())
        out["datasets"][dataset] = entry
        diff = entry["test"]["all"]["paper_minus_official"]
        log(f"{dataset}: paper minus official schedule, test HR@20 {diff['hr@20']:+.2f} {diff['hr@20_ci95']}, "
            f"MRR@20 {diff['mrr@20']:+.2f} {diff['mrr@20_ci95']}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    run_directory.write_json_atomic(path, out)
    return path


def not_below(entry: dict) -> bool:
    """The paper's schedule does not lose on all labels beyond what the test set resolves: the upper end of
    both paired intervals (HR@20, MRR@20) is at or above 0."""
    diff = entry["test"]["all"]["paper_minus_official"]
    return diff["hr@20_ci95"][1] >= 0 and diff["mrr@20_ci95"][1] >= 0


def selected_val(curve: list) -> float:
    """The validation HR@20 of the epoch validation selects (the best; the earliest on ties)."""
    return max(row["val_hr@20"] for row in curve)


def report_lines(results_dir: str) -> list:
    """The report's section (results/README.md), from `lr_schedule.json`; [] when it is not there."""
    from experiments.measure_uncertainty_lib import difference_text
    from tagnn_tf import run_directory

    path = os.path.join(results_dir, SCHEDULE_DIR, SCHEDULE_FILE)
    if not os.path.exists(path):
        return []
    lines = ["## The learning-rate schedule (`python -m experiments.lr_schedule_default`)", "",
             "TAGNN + repeat-explore, the fair tuning's try 0 (`time` split, sampled softmax, 6 epochs, seed 2020), "
             "trained with the paper's schedule (1e-3 for epochs 1-3, 1e-4 for 4-6) against the same try with the "
             "official code's (1e-3 for epochs 1-2, 1e-4 for 3-5, 1e-5 for 6; the tuning's own run). Test HR@20 / "
             "MRR@20 at the validation-selected epoch; paper minus official with the paired bootstrap's 95% "
             "interval (1,000 draws); the validation HR@20 each run selected its epoch on:", "",
             "| dataset | labels | official | paper | paper minus official | validation HR@20: official / paper |",
             "|---|---|---|---|---|---|"]
    datasets = run_directory.read_json(path)["datasets"]
    for dataset, entry in datasets.items():
        for subset in ("all", "repeat", "new"):
            row = entry["test"][subset]
            val = (f"{selected_val(entry['curves']['official']):.2f} / {selected_val(entry['curves']['paper']):.2f}"
                   if subset == "all" else "")
            lines.append(f"| {dataset} | {subset} ({row['examples']:,}) | {row['official']['hr@20']:.2f} / "
                         f"{row['official']['mrr@20']:.2f} | {row['paper']['hr@20']:.2f} / {row['paper']['mrr@20']:.2f}"
                         f" | {difference_text(row['paper_minus_official'])} | {val} |")
    verdicts = [f"{dataset}: {'not below' if not_below(entry) else 'below'}" for dataset, entry in datasets.items()]
    keep = all(not_below(entry) for entry in datasets.values())
    lines += ["", "The paper's schedule on all labels against the official one (below = an interval entirely under 0): "
              + "; ".join(verdicts) + ". " + (
                  "It is not below on any of them." if keep else
                  "It loses on at least one benchmark log, so `trainers.train` keeps the official code's schedule "
                  "(`TrainConfig`'s default, the reproduction's and the tuning's); `--lr_schedule=paper` is a choice "
                  "to make on validation.")]
    return lines + [""]


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("results_dir", "results", "Holds baselines/<dataset>/tagnn_repeat/try-0; the runs and "
                        "lr_schedule.json go to its lr_schedule/.")
    flags.DEFINE_list("datasets", ["yoochoose1_64", "diginetica"], "Datasets to check.")
    flags.DEFINE_string("data_dir", "../shared/data", "Dataset folders.")
    FLAGS = flags.FLAGS

    def _main(argv):
        from tagnn_tf.cli import run_or_exit

        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
        print(run_or_exit(run_check, FLAGS.results_dir, FLAGS.datasets, FLAGS.data_dir))

    app.run(_main)
