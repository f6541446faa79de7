"""Recompute a saved run's metrics: `python -m trainers.evaluate --model_dir=runs/x`."""

from tagnn_tf.runtime import configure_process

configure_process()

import json  # noqa: E402

from absl import app, flags, logging  # noqa: E402

from tagnn_tf.cli import parse_flags_or_exit  # noqa: E402

flags.DEFINE_string("model_dir", None, "Run directory written by trainers.train.", required=True)
flags.DEFINE_list("splits", ["val", "test"], "Splits to evaluate: val, test, train.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    from tagnn_tf.cli import run_or_exit
    from tagnn_tf.launcher import evaluate_run

    result = run_or_exit(evaluate_run, FLAGS.model_dir, tuple(FLAGS.splits))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
