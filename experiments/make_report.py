"""Regenerate results/README.md and its plots from the run logs: `python -m experiments.make_report`."""

import os

from tagnn_tf.runtime import configure_process

configure_process()

from absl import app, flags  # noqa: E402

from tagnn_tf.cli import parse_flags_or_exit  # noqa: E402
from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_string("results_dir", os.path.join(ROOT, "results"), "Folder of the run folders.")
flags.DEFINE_string("data_readme", os.path.join(ROOT, DEFAULT_DATA_DIR, "README.md"),
                    "The data README with the published results table.")
flags.DEFINE_string("readme", os.path.join(ROOT, "README.md"),
                    "The project README whose block of data profiles is rewritten ('' leaves it).")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from experiments.make_report_lib import write_report
    from tagnn_tf.cli import run_or_exit

    print(f"wrote {os.path.relpath(run_or_exit(write_report, FLAGS.results_dir, FLAGS.data_readme, FLAGS.readme or None))}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
