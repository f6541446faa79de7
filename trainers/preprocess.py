"""Raw click logs -> SR-GNN files.

  python -m trainers.preprocess --format=diginetica --input=train-item-views.csv --output_dir=data/
  python -m trainers.preprocess --format=yoochoose --input=yoochoose-clicks.dat --output_dir=data/
"""

from absl import app, flags

flags.DEFINE_enum("format", None, ["diginetica", "yoochoose"], "Raw log format.", required=True)
flags.DEFINE_string("input", None, "Raw log file.", required=True)
flags.DEFINE_string("output_dir", None, "Where the dataset folder(s) are written.", required=True)
flags.DEFINE_boolean("skip_malformed", False, "Skip malformed lines (counted and reported) instead of failing.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from tagnn_tf.cli import run_or_exit
    from tagnn_tf.data.raw_preprocess import run_preprocess

    run_or_exit(run_preprocess, FLAGS.input, FLAGS.format, FLAGS.output_dir, skip_malformed=FLAGS.skip_malformed)


if __name__ == "__main__":
    app.run(main)
