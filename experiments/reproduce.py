"""Reproduce the paper: `python -m experiments.reproduce --suite=paper --results_dir=results`.

Trains every configuration of Table 1 (TAGNN rows) and Figure 2 into
`<results_dir>/<dataset>/<config>/`; rerunning resumes the unfinished run from
its last checkpoint (inside an epoch if need be) and skips finished ones.
`--datasets` / `--configs` select a subset (comma-separated).
"""

from tagnn_tf.runtime import configure_process

configure_process()

from absl import app, flags, logging  # noqa: E402

from tagnn_tf.cli import parse_flags_or_exit  # noqa: E402
from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402

flags.DEFINE_string("suite", "paper", "Suite of runs (experiments.reproduce_lib.SUITES).")
flags.DEFINE_string("results_dir", "results", "Runs go to <results_dir>/<dataset>/<config>/.")
flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Folder holding the dataset folders.")
flags.DEFINE_list("datasets", [], "Only these datasets (default: all of the suite).")
flags.DEFINE_list("configs", [], "Only these configs (default: all of the suite).")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    from experiments.reproduce_lib import run_suite
    from tagnn_tf.cli import run_or_exit

    run_or_exit(run_suite, FLAGS.suite, FLAGS.results_dir, FLAGS.data_dir, FLAGS.datasets, FLAGS.configs)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
