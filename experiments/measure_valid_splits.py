"""Measure the val - test gap of each validation split:
`python -m experiments.measure_valid_splits --out_dir=results/valid_split`."""

from tagnn_tf.runtime import configure_process

configure_process()

from absl import app, flags, logging  # noqa: E402

from tagnn_tf.cli import parse_flags_or_exit  # noqa: E402
from tagnn_tf.config import DEFAULT_DATA_DIR  # noqa: E402

flags.DEFINE_string("out_dir", "results/valid_split", "Rows go to <out_dir>/<dataset>.jsonl.")
flags.DEFINE_string("data_dir", DEFAULT_DATA_DIR, "Folder holding the dataset folders.")
flags.DEFINE_list("datasets", ["yoochoose1_64", "diginetica"], "Datasets.")
flags.DEFINE_string("neural_method", "", "Instead of the non-neural rows: train this neural --model once per "
                    "split (default configuration, --epochs epochs) for the per-epoch view.")
flags.DEFINE_list("splits", ["examples", "sessions", "time"], "Splits of the neural runs.")
flags.DEFINE_integer("epochs", 3, "Epochs of each neural run.")
flags.DEFINE_enum("train_candidates", "full", ["full", "sampled"], "TrainConfig.train_candidates of the neural runs.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    from experiments.measure_valid_splits_lib import measure
    from tagnn_tf.cli import run_or_exit

    if FLAGS.neural_method:
        from experiments.measure_valid_splits_lib import measure_neural

        for dataset in FLAGS.datasets:
            run_or_exit(measure_neural, FLAGS.out_dir, dataset, FLAGS.data_dir, FLAGS.neural_method, FLAGS.splits,
                        FLAGS.epochs, FLAGS.train_candidates)
        return
    run_or_exit(measure, FLAGS.out_dir, FLAGS.datasets, FLAGS.data_dir)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
