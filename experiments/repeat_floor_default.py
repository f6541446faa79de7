"""The repeat distribution's floor picked on validation (`--repeat_floor=validated`), measured for a default.

  python -m experiments.repeat_floor_default --results_dir=results --datasets=yoochoose1_64,diginetica

For each dataset this trains the fair tuning's try 0 of TAGNN + repeat-explore
(`experiments.tune_baselines_lib`: `time` split, sampled softmax, 6 epochs,
the official schedule, the same seed) with `trainers.train`'s history gate
(`repeat_gate="history"`) and `ModelConfig.repeat_floor="validated"` into
`<results_dir>/repeat_floor/<dataset>/tagnn_repeat-history-gate-floor/`
(resumable). It compares that run and the history gate's run without the
floor (`experiments.repeat_gate_default`'s, trained if missing) with the
tuning's own try 0 as `experiments.lr_schedule_default` compares schedules,
and the floor's run with the history gate's (paired bootstrap on all labels,
the repeat labels and the others). The floor changes scoring only, so both
runs train alike; they differ in the scores of the session's items and in the
epoch validation selects. Writes `<results_dir>/repeat_floor/repeat_floor.json`;
`experiments.make_report` renders it.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Sequence

from experiments.lr_schedule_default import (METHOD, REFERENCE, measure_runs, official_try, record_checks,
                                             variant_rows)
from experiments.repeat_gate_default import GATE_DIR, RUN_NAME as GATE_RUN

FLOOR_DIR = "repeat_floor"
FLOOR_FILE = "repeat_floor.json"
RUN_NAME = f"{METHOD}-history-gate-floor"


def check_dataset(results_dir: str, dataset: str, data_dir: str, log: Callable = print) -> dict:
    """Trains (or resumes) the history gate's runs of `dataset` with and without the floor and compares them
    with the tuning's try 0 and with each other (`floor_minus_gate`: {subset: paired difference})."""
    from experiments.compare_run_dirs import paired_runs
    from tagnn_tf import run_directory

    official, reference = official_try(results_dir, dataset, data_dir)
    gate = dataclasses.replace(official, model=dataclasses.replace(official.model, repeat_gate="history"))
    floor = dataclasses.replace(gate, model=dataclasses.replace(gate.model, repeat_floor="validated"))
    folders = {GATE_RUN: os.path.join(results_dir, GATE_DIR, dataset, GATE_RUN),
               RUN_NAME: os.path.join(results_dir, FLOOR_DIR, dataset, RUN_NAME)}
    entry = measure_runs(results_dir, dataset, data_dir, reference,
                         {GATE_RUN: (gate, folders[GATE_RUN]), RUN_NAME: (floor, folders[RUN_NAME])}, log=log)
    entry["floor_minus_gate"] = {subset: boot["runs"][RUN_NAME]["minus_reference"] for subset, boot in
                                 paired_runs(folders, GATE_RUN, os.path.join(data_dir, dataset)).items()}
    entry["floors_picked"] = [row["repeat_floor"] for row in
                              run_directory.read_jsonl(os.path.join(folders[RUN_NAME], run_directory.METRICS))]
    return entry


def run_check(results_dir: str, datasets: Sequence[str], data_dir: str, log: Callable = print) -> str:
    """`check_dataset` for each of `datasets`; writes and returns `<results_dir>/repeat_floor/repeat_floor.json`
    (`lr_schedule_default.record_checks`)."""
    path = record_checks(os.path.join(results_dir, FLOOR_DIR, FLOOR_FILE), datasets,
                         lambda dataset: check_dataset(results_dir, dataset, data_dir, log=log),
                         "the session gate", log)
    from experiments.measure_uncertainty_lib import difference_text
    from tagnn_tf import run_directory

    for dataset, entry in run_directory.read_json(path)["datasets"].items():
        log(f"{dataset}: floor minus history gate, test HR@20 / MRR@20 "
            f"{difference_text(entry['floor_minus_gate']['all'])}; floors picked {entry['floors_picked']}")
    return path


def not_below_gate(entry: dict) -> bool:
    """The floor's run does not lose to the history gate's on all labels beyond what the test set resolves."""
    diff = entry["floor_minus_gate"]["all"]
    return diff["hr@20_ci95"][1] >= 0 and diff["mrr@20_ci95"][1] >= 0


def report_lines(results_dir: str) -> list:
    """The report's section (results/README.md), from `repeat_floor.json`; [] when it is not there."""
    from experiments.measure_uncertainty_lib import difference_text
    from tagnn_tf import run_directory
    from tagnn_tf.config import TRAINER_REPEAT_FLOOR
    from tagnn_tf.layers.repeat_scores import REPEAT_FLOORS

    path = os.path.join(results_dir, FLOOR_DIR, FLOOR_FILE)
    if not os.path.exists(path):
        return []
    datasets = run_directory.read_json(path)["datasets"]
    rows, _, _ = variant_rows(datasets, "session gate", "that run")
    lines = ["## The repeat floor (`python -m experiments.repeat_floor_default`)", "",
             "TAGNN + repeat-explore, the fair tuning's try 0 (`time` split, sampled softmax, 6 epochs, the official "
             "schedule, seed 2020) with the history gate, without (`" + GATE_RUN + "`) and with (`" + RUN_NAME
             + "`) `--repeat_floor=validated`: the repeat distribution becomes (1 - e) softmax(ρ) + e clicks_u / "
             f"clicks, e picked on validation after each epoch from {list(REPEAT_FLOORS)}. Test HR@20 / MRR@20 at "
             "the validation-selected epoch, each against the tuning's own try 0 (RepeatNet's session gate) with "
             "the paired bootstrap's 95% interval (1,000 draws):", ""] + rows
    lines += ["", "The floor against the history gate without it (same training; they differ in the session items' "
              "scores and the selected epoch), test HR@20 / MRR@20 difference with 95% interval:", "",
              "| dataset | all | repeat labels | new labels | floors picked, epochs 1.. | verdict |",
              "|---|---|---|---|---|---|"]
    for dataset, entry in datasets.items():
        diff = entry["floor_minus_gate"]
        lines.append(f"| {dataset} | {difference_text(diff['all'])} | {difference_text(diff['repeat'])} | "
                     f"{difference_text(diff['new'])} | {', '.join(f'{e:g}' for e in entry['floors_picked'])} | "
                     f"{'not below' if not_below_gate(entry) else 'below'} |")
    lines += ["", f"`trainers.train`'s default with repeat-explore (`config.TRAINER_REPEAT_FLOOR`) is "
              f"`{TRAINER_REPEAT_FLOOR}`; `ModelConfig.repeat_floor`, the reproduction and the fair tuning keep "
              "`none`.", ""]
    return lines


if __name__ == "__main__":
    from experiments.repeat_gate_default import main

    main(run_check, "Holds baselines/<dataset>/tagnn_repeat/try-0 and the history gate's runs (repeat_gate/); "
         "the floor's runs and repeat_floor.json go to its repeat_floor/.")
