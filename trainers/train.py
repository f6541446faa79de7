"""Train TAGNN (or a baseline, `--model=`): `python -m trainers.train --dataset=diginetica --model_dir=runs/x`.

Every config field is a flag (see `--helpfull`); rerunning with the same
--model_dir resumes from the last checkpoint. `--strategy=mirrored
[--num_devices=N]` trains on the local GPUs; `--strategy=multi_worker` on the
cluster in TF_CONFIG (run the same command on every host; see README).
"""

from tagnn_tf.runtime import configure_process

configure_process()

from absl import app, flags, logging  # noqa: E402

from tagnn_tf.cli import parse_flags_or_exit  # noqa: E402
from tagnn_tf.flags_config import (  # noqa: E402
    config_from_flags, define_config_flags, define_distribute_flags, distribute_config_from_flags)

flags.DEFINE_string("model_dir", "runs/synthetic", "Run directory (checkpoints, metrics, best model).")
define_config_flags()
define_distribute_flags()
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    from tagnn_tf.cli import run_or_exit
    from tagnn_tf.training.strategies import make_strategy
    from tagnn_tf.launcher import train

    def run():
        strategy = make_strategy(distribute_config_from_flags())  # before any other TF work
        return train(config_from_flags(model_dir=FLAGS.model_dir), FLAGS.model_dir, strategy=strategy)

    run_or_exit(run)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
