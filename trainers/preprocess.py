"""Raw click logs -> the dataset folders the trainer reads.

  python -m trainers.preprocess --format=clicks --input=clicks.csv.gz --output_dir=data/ --dataset=shop \
      --session_column=session --item_column=sku --time_column=ts [--time_format=unix_milliseconds] ...
  python -m trainers.preprocess --format=diginetica --input=train-item-views.csv --output_dir=data/
  python -m trainers.preprocess --format=yoochoose --input=yoochoose-clicks.dat --output_dir=data/
  python -m trainers.preprocess --format=srgnn --input=../shared/data/diginetica --output_dir=data/ \
      --dataset=diginetica

`clicks`: any CSV/TSV (header, optionally gzipped) or Parquet log with named
columns and the rules of `ClickLogConfig` (every field is a flag); writes
`<output_dir>/<dataset>/` with `items.txt` (line i = raw id of item i) and
`preprocess_report.json`. `diginetica` / `yoochoose`: the reference readers
of the two benchmark logs. `srgnn`: a folder of SR-GNN pickles, converted.
Every format writes the sessions as session shards (`--output_format=shards`,
the default: Parquet, one row per session, `--shard_sessions` each;
`tagnn_tf.data.session_shards`), or the SR-GNN pickles
(`--output_format=pickles`). Every dataset folder written gets the data profile
(`tagnn_tf.data_profile`, as `trainers.profile` prints it) under `profile` in
its `preprocess_report.json`.
"""

from absl import app, flags

from tagnn_tf.arguments import DATASET_OUTPUTS
from tagnn_tf.cli import parse_flags_or_exit
from tagnn_tf.data.session_shards import DEFAULT_SHARD_SESSIONS
from tagnn_tf.config import ClickLogConfig
from tagnn_tf.flags_config import dataclass_from_flags, define_dataclass_flags

flags.DEFINE_enum("format", None, ["clicks", "diginetica", "yoochoose", "srgnn"],
                  "Raw log format (srgnn: a folder of SR-GNN pickles, converted into session shards).", required=True)
flags.DEFINE_string("input", None, "Raw log file (--format=srgnn: the dataset folder).", required=True)
flags.DEFINE_string("output_dir", None, "Where the dataset folder(s) are written.", required=True)
flags.DEFINE_string("dataset", "clicks", "--format=clicks / srgnn: name of the dataset folder under --output_dir.")
flags.DEFINE_enum("output_format", "shards", DATASET_OUTPUTS,
                  "shards: session shards (Parquet, one row per session; what --input_pipeline=stream reads); "
                  "pickles: the SR-GNN files.")
flags.DEFINE_boolean("out_of_core", False, "--format=clicks: preprocess in passes over files on disk, memory bounded "
                     "by a partition of the log, not the log (writes shards; the profile is left to trainers.profile).")
flags.DEFINE_integer("partitions", 0, "--out_of_core: partitions of the log (0 = about one per 100 MB of input).",
                     lower_bound=0)
flags.DEFINE_integer("shard_sessions", DEFAULT_SHARD_SESSIONS, "Sessions per shard (--output_format=shards).",
                     lower_bound=1)
flags.DEFINE_boolean("skip_malformed", False, "Skip malformed lines (counted and reported) instead of failing.")
flags.DEFINE_boolean("overwrite", False, "Replace a dataset folder that holds another dataset (refused otherwise).")
define_dataclass_flags(ClickLogConfig)
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from tagnn_tf.cli import run_or_exit
    from tagnn_tf.data_profile import preprocess_and_profile

    run_or_exit(preprocess_and_profile, FLAGS.format, FLAGS.input, FLAGS.output_dir, FLAGS.dataset,
                dataclass_from_flags(ClickLogConfig), skip_malformed=FLAGS.skip_malformed,
                overwrite=FLAGS.overwrite, output_format=FLAGS.output_format, shard_sessions=FLAGS.shard_sessions,
                out_of_core=FLAGS.out_of_core, partitions=FLAGS.partitions)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
