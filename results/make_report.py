"""Regenerate results/README.md and its plots from the run logs: `python results/make_report.py`."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from absl import app, flags  # noqa: E402

flags.DEFINE_string("results_dir", os.path.join(ROOT, "results"), "Folder of the run folders.")
flags.DEFINE_string("data_readme", os.path.join(ROOT, "..", "shared", "data", "README.md"),
                    "The data README with the published results table.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from tagnn_tf.training.results_report import write_report

    try:
        print(f"wrote {write_report(FLAGS.results_dir, FLAGS.data_readme)}")
    except (OSError, ValueError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    app.run(main)
