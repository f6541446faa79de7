"""A click log -> a dataset folder of session shards, on Apache Beam (`tagnn_tf.data.beam_preprocess`).

  .venv-beam/bin/python -m trainers.preprocess_beam --input=clicks.csv --output_dir=data/ --dataset=shop \
      --session_column=session --item_column=sku --time_column=ts [--runner=DirectRunner ...]

The same rules (every `ClickLogConfig` field is a flag) and the same output as
`python -m trainers.preprocess --format=clicks`. Flags this binary does not
define are Beam pipeline options (`--runner=FlinkRunner --flink_master=...`,
`--runner=DataflowRunner --project=... --region=... --temp_location=gs://...`,
`--direct_num_workers=2`). Needs the Beam extra: `pip install -r requirements-beam.txt`
(`make .venv-beam` makes a virtual environment with it).
"""

import sys

from absl import app, flags

from tagnn_tf.config import ClickLogConfig
from tagnn_tf.data.session_shards import DEFAULT_SHARD_SESSIONS
from tagnn_tf.flags_config import dataclass_from_flags, define_dataclass_flags

flags.DEFINE_string("input", None, "The click log: plain CSV with a header, or Parquet.", required=True)
flags.DEFINE_string("output_dir", None, "Where the dataset folder is written (shared by every worker).",
                    required=True)
flags.DEFINE_string("dataset", "clicks", "Name of the dataset folder under --output_dir.")
flags.DEFINE_boolean("skip_malformed", False, "Skip malformed rows (counted and reported) instead of failing.")
flags.DEFINE_boolean("overwrite", False, "Replace a dataset folder that holds another dataset (refused otherwise).")
flags.DEFINE_integer("shard_sessions", DEFAULT_SHARD_SESSIONS, "At most this many sessions per shard.",
                     lower_bound=1)
define_dataclass_flags(ClickLogConfig)
FLAGS = flags.FLAGS


def _parse(argv):
    """absl's flags; the rest are Beam's options."""
    try:
        rest = FLAGS(argv, known_only=True)
    except flags.Error as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    return rest


def main(argv):
    from tagnn_tf.cli import run_or_exit
    from tagnn_tf.data.beam_preprocess import run_beam

    run_or_exit(run_beam, FLAGS.input, dataclass_from_flags(ClickLogConfig), FLAGS.output_dir, FLAGS.dataset,
                skip_malformed=FLAGS.skip_malformed, overwrite=FLAGS.overwrite, shard_sessions=FLAGS.shard_sessions,
                pipeline_args=argv[1:])


if __name__ == "__main__":
    app.run(main, flags_parser=_parse)
