"""The repeat gate that also reads the session's repeat history (`--repeat_gate=history`), measured for a default.

  python -m experiments.repeat_gate_default --results_dir=results --datasets=yoochoose1_64,diginetica

For each dataset this trains the fair tuning's try 0 of TAGNN + repeat-explore
(`experiments.tune_baselines_lib`: `time` split, sampled softmax, 6 epochs,
the official schedule, the same seed) with `ModelConfig.repeat_gate="history"`
into `<results_dir>/repeat_gate/<dataset>/tagnn_repeat-history-gate/`
(resumable), and compares it with the tuning's own try 0 (the `session` gate,
`<results_dir>/baselines/<dataset>/tagnn_repeat/try-0/`, which must be
finished) exactly as `experiments.lr_schedule_default` compares schedules:
test HR@20 / MRR@20 on all labels, the repeat labels and the others, with the
paired bootstrap. Writes `<results_dir>/repeat_gate/repeat_gate.json`;
`experiments.make_report` renders it.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

from experiments.lr_schedule_default import METHOD, measure_model_variants, record_checks, variant_rows

GATE_DIR = "repeat_gate"
GATE_FILE = "repeat_gate.json"
GATE = "history"
RUN_NAME = f"{METHOD}-{GATE}-gate"


def check_dataset(results_dir: str, dataset: str, data_dir: str, log: Callable = print) -> dict:
    """Trains (or resumes) the `history` gate's run of `dataset` and compares it with the tuning's try 0."""
    return measure_model_variants(results_dir, dataset, data_dir, GATE_DIR, {RUN_NAME: {"repeat_gate": GATE}}, log=log)


def run_check(results_dir: str, datasets: Sequence[str], data_dir: str, log: Callable = print) -> str:
    """`check_dataset` for each of `datasets`; writes and returns `<results_dir>/repeat_gate/repeat_gate.json`
    (`lr_schedule_default.record_checks`)."""
    return record_checks(os.path.join(results_dir, GATE_DIR, GATE_FILE), datasets,
                         lambda dataset: check_dataset(results_dir, dataset, data_dir, log=log),
                         "the session gate", log)


def report_lines(results_dir: str) -> list:
    """The report's section (results/README.md), from `repeat_gate.json`; [] when it is not there."""
    from tagnn_tf import run_directory
    from tagnn_tf.config import TRAINER_REPEAT_GATE

    path = os.path.join(results_dir, GATE_DIR, GATE_FILE)
    if not os.path.exists(path):
        return []
    datasets = run_directory.read_json(path)["datasets"]
    rows, verdicts, below = variant_rows(datasets, "session gate", "history gate")
    lines = ["## The repeat gate (`python -m experiments.repeat_gate_default`)", "",
             "TAGNN + repeat-explore, the fair tuning's try 0 (`time` split, sampled softmax, 6 epochs, the official "
             "schedule, seed 2020), trained with `--repeat_gate=history` (the gate also reads the session's "
             "repeat history: log clicks and the share of clicks that went back to an earlier item) against the "
             "same try with RepeatNet's gate, which reads the session vector only. Test HR@20 / MRR@20 at the "
             "validation-selected epoch; minus the session gate with the paired bootstrap's 95% interval (1,000 "
             "draws); the validation HR@20 each run selected its epoch on:", ""] + rows
    lines += ["", "Against the session gate on all labels (below = an interval entirely under 0): "
              + "; ".join(verdicts) + ". `trainers.train`'s default with repeat-explore (`config.TRAINER_REPEAT_GATE`) "
              f"is `{TRAINER_REPEAT_GATE}`"
              + (f"; the history gate is below the session gate on {', '.join(sorted(below))}" if below else "")
              + "; `ModelConfig.repeat_gate`, the reproduction and the fair tuning keep `session`.", ""]
    return lines


def main(run_check: Callable, results_help: str) -> None:
    """The binary of a check whose `run_check(results_dir, datasets, data_dir)` writes and returns its JSON's
    path: --results_dir (`results_help`), --datasets, --data_dir."""
    from absl import app, flags

    flags.DEFINE_string("results_dir", "results", results_help)
    flags.DEFINE_list("datasets", ["yoochoose1_64", "diginetica"], "Datasets to check.")
    flags.DEFINE_string("data_dir", "../shared/data", "Dataset folders.")
    FLAGS = flags.FLAGS

    def _main(argv):
        from tagnn_tf.cli import run_or_exit

        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
        print(run_or_exit(run_check, FLAGS.results_dir, FLAGS.datasets, FLAGS.data_dir))

    app.run(_main)


if __name__ == "__main__":
    main(run_check, "Holds baselines/<dataset>/tagnn_repeat/try-0; the runs and repeat_gate.json go to its "
         "repeat_gate/.")
