"""Normalised item vectors (`--item_norm_scale`) against the learned ones, measured for a default.

  python -m experiments.item_norm_default --results_dir=results --datasets=yoochoose1_64,diginetica \
      --scales=8

For each dataset and each scale c of `--scales` this trains the fair tuning's
try 0 of TAGNN + repeat-explore (`experiments.tune_baselines_lib`: `time`
split, sampled softmax, 6 epochs, the official schedule, the same seed) with
`ModelConfig.item_norm_scale=c` into
`<results_dir>/item_norm/<dataset>/tagnn_repeat-item-norm-<c>/` (resumable),
and compares it with the tuning's own try 0 (item vectors as learned,
`<results_dir>/baselines/<dataset>/tagnn_repeat/try-0/`, which must be
finished) exactly as `experiments.lr_schedule_default` compares schedules:
test HR@20 / MRR@20 on all labels, the repeat labels and the others, with the
paired bootstrap. Writes `<results_dir>/item_norm/item_norm.json`;
`experiments.make_report` renders it.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

from experiments.lr_schedule_default import METHOD, measure_model_variants, record_checks, variant_rows
from tagnn_tf.errors import InputError

NORM_DIR = "item_norm"
NORM_FILE = "item_norm.json"


def run_name(scale: float) -> str:
    return f"{METHOD}-item-norm-{scale:g}"


def check_dataset(results_dir: str, dataset: str, data_dir: str, scales: Sequence[float],
                  log: Callable = print) -> dict:
    """Trains (or resumes) each of `scales`' runs of `dataset` and compares them with the tuning's try 0."""
    if not scales or any(not s > 0 for s in scales):
        raise InputError(f"Scales to compare with the learned item vectors: numbers > 0. Received: {list(scales)}")
    return measure_model_variants(results_dir, dataset, data_dir, NORM_DIR,
                                  {run_name(s): {"item_norm_scale": s} for s in scales}, log=log)


def run_check(results_dir: str, datasets: Sequence[str], data_dir: str, scales: Sequence[float],
              log: Callable = print) -> str:
    """`check_dataset` for each of `datasets`; writes and returns `<results_dir>/item_norm/item_norm.json`
    (`lr_schedule_default.record_checks`)."""
    return record_checks(os.path.join(results_dir, NORM_DIR, NORM_FILE), datasets,
                         lambda dataset: check_dataset(results_dir, dataset, data_dir, scales, log=log),
                         "learned item vectors", log)


def report_lines(results_dir: str) -> list:
    """The report's section (results/README.md), from `item_norm.json`; [] when it is not there."""
    from tagnn_tf import run_directory

    path = os.path.join(results_dir, NORM_DIR, NORM_FILE)
    if not os.path.exists(path):
        return []
    rows, verdicts, below = variant_rows(run_directory.read_json(path)["datasets"], "learned", "normalised")
    lines = ["## Normalised item vectors (`python -m experiments.item_norm_default`)", "",
             "TAGNN + repeat-explore, the fair tuning's try 0 (`time` split, sampled softmax, 6 epochs, the official "
             "schedule, seed 2020), trained with `--item_norm_scale=c` (item vectors L2-normalised: length 1 as "
             "node inputs, c as candidates) against the same try with the vectors as learned. Test HR@20 / MRR@20 "
             "at the validation-selected epoch; minus the learned vectors with the paired bootstrap's 95% interval "
             "(1,000 draws); the validation HR@20 each run selected its epoch on:", ""] + rows
    lines += ["", "Against the learned item vectors on all labels (below = an interval entirely under 0): "
              + "; ".join(verdicts) + ". `ModelConfig.item_norm_scale` and `trainers.train` default to 0 (the "
              "paper's model, the reproduction's and the fair tuning's)"
              + (f": normalised vectors are below the learned ones on {', '.join(sorted(below))}"
                 if below else "") + "; docs/repeat_heavy_logs.md says where `--item_norm_scale=8` pays.", ""]
    return lines


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("results_dir", "results", "Holds baselines/<dataset>/tagnn_repeat/try-0; the runs and "
                        "item_norm.json go to its item_norm/.")
    flags.DEFINE_list("datasets", ["yoochoose1_64", "diginetica"], "Datasets to check.")
    flags.DEFINE_list("scales", ["8"], "item_norm_scale values (> 0) to compare with the learned item vectors.")
    flags.DEFINE_string("data_dir", "../shared/data", "Dataset folders.")
    FLAGS = flags.FLAGS

    def _main(argv):
        from tagnn_tf.cli import run_or_exit

        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
        print(run_or_exit(run_check, FLAGS.results_dir, FLAGS.datasets, FLAGS.data_dir,
                          [float(s) for s in FLAGS.scales]))

    app.run(_main)
