"""Paired bootstrap of the finished runs' test metrics: `python -m experiments.measure_uncertainty`.

Scores each finished run's selected model on its test set again and writes
`results/test_uncertainty.json` (95% intervals of HR@20 / MRR@20 under
test-set resampling, and of each run minus `tagnn` on the same resamples);
`python -m experiments.make_report` puts them into results/README.md.
"""

import os

from tagnn_tf.runtime import configure_process

configure_process()

from absl import app, flags  # noqa: E402

from tagnn_tf.cli import parse_flags_or_exit  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_string("results_dir", os.path.join(ROOT, "results"), "Folder of the run folders.")
flags.DEFINE_list("datasets", [], "Rescore only these datasets (default: both); the other datasets' "
                  "entries are kept from the existing test_uncertainty.json.")
flags.DEFINE_integer("resamples", 1000, "Bootstrap resamples.")
flags.DEFINE_integer("seed", 0, "Seed of the resampling.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from experiments.measure_uncertainty_lib import measure_results
    from tagnn_tf.cli import run_or_exit

    path = run_or_exit(measure_results, FLAGS.results_dir, FLAGS.datasets, FLAGS.resamples, FLAGS.seed)
    print(f"wrote {os.path.relpath(path)}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
