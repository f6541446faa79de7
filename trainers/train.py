"""Train TAGNN: `python -m trainers.train --dataset=diginetica --data_dir=../shared/data --model_dir=runs/x`.

Every config field is a flag (see `--helpfull`); rerunning with the same
--model_dir resumes from the last checkpoint.
"""

from tagnn_tf.runtime import configure_process

configure_process()

from absl import app, flags, logging  # noqa: E402

from tagnn_tf.flags_config import config_from_flags, define_config_flags  # noqa: E402

flags.DEFINE_string("model_dir", "runs/synthetic", "Run directory (checkpoints, metrics, best model).")
define_config_flags()
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    from tagnn_tf.cli import run_or_exit
    from tagnn_tf.training.trainer import train

    run_or_exit(lambda: train(config_from_flags(), FLAGS.model_dir))


if __name__ == "__main__":
    app.run(main)
