"""Paired bootstrap of finished runs of one log against one of them, on every test label and its subsets.

  python -m experiments.compare_run_dirs --reference=runs/a --run_dirs=runs/b,runs/c --output=compare.json

Each run folder must hold `test_ranks.npz` (what `trainers.train` writes for
its selected epoch) for the same test split; the repeat subsets come from the
reference run's dataset (`config.json`). Writes {"reference", "runs",
"test": `measure_uncertainty_lib.paired_by_subset`'s result, "git_commit",
"machine"} (HR@20 / MRR@20 in %) and prints each run minus the reference.
"""

from __future__ import annotations

import os
from typing import Callable, Dict, Sequence

from tagnn_tf.errors import InputError


def paired_runs(folders: Dict[str, str], reference: str, dataset_dir: str) -> dict:
    """`measure_uncertainty_lib.paired_by_subset` of the finished runs `folders` ({name: run folder}) against
    the run named `reference`, on the test split of the dataset at `dataset_dir` (all, repeat, new labels)."""
    from experiments.measure_uncertainty_lib import paired_by_subset
    from tagnn_tf import run_directory
    from tagnn_tf.data.sessions import load_test_examples

    ranks = {}
    for name, folder in folders.items():
        ranks[name] = run_directory.read_test_ranks(folder)
        if ranks[name] is None:
            raise InputError(f"{folder}: no {run_directory.TEST_RANKS}; is it a finished trainers.train run?")
    return paired_by_subset(ranks, reference, load_test_examples(dataset_dir).label_repeats())


def compare(reference: str, run_dirs: Sequence[str], output: str, log: Callable = print) -> str:
    """Writes the comparison of `run_dirs` with `reference` (run folders) to `output`; returns `output`."""
    from experiments.measure_uncertainty_lib import difference_text
    from tagnn_tf import run_directory

    folders = [reference, *run_dirs]
    names = [os.path.basename(os.path.normpath(folder)) for folder in folders]
    if len(set(names)) != len(names) or not run_dirs:
        raise InputError(f"Give a reference and at least one other run, with distinct folder names. Received: "
                         f"{folders}")
    data = run_directory.read_config(reference).data
    test = paired_runs(dict(zip(names, folders)), names[0], os.path.join(data.data_dir, data.dataset))
    for name in names[1:]:
        log(f"{name} minus {names[0]}: test HR@20 / MRR@20 "
            + "; ".join(f"{subset} {difference_text(test[subset]['runs'][name]['minus_reference'])}"
                        for subset in ("all", "repeat", "new")))
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    run_directory.write_json_atomic(output, {
        "reference": names[0], "runs": dict(zip(names, [os.path.relpath(f, os.path.dirname(output) or ".")
                                                         for f in folders])),
        "test": test, "git_commit": run_directory.git_commit(), "machine": run_directory.machine_info()})
    return output


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("reference", None, "The run folder the others are compared with.", required=True)
    flags.DEFINE_list("run_dirs", [], "Run folders compared with it.")
    flags.DEFINE_string("output", None, "JSON to write.", required=True)
    FLAGS = flags.FLAGS

    def _main(argv):
        from tagnn_tf.cli import run_or_exit

        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
        print(run_or_exit(compare, FLAGS.reference, FLAGS.run_dirs, FLAGS.output))

    app.run(_main)
