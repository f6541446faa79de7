"""Export a trained run for serving: `python -m export.export_savedmodel --model_dir=runs/x --export_dir=exports/tagnn`.

Writes `<export_dir>/<version>/` (TF Serving layout; the version is one more
than the largest existing one) from `<model_dir>/best.keras`, with the
`serving_default` and `top_k` signatures and TF Serving warmup requests
(`--rerank_candidates=K` adds the retrieve-then-rerank signatures).
"""

from tagnn_tf.runtime import configure_process

configure_process()

from absl import app, flags, logging  # noqa: E402

from tagnn_tf.cli import parse_flags_or_exit  # noqa: E402
from tagnn_tf.config import ExportConfig  # noqa: E402  (the defaults' single home; no TensorFlow)

DEFAULTS = ExportConfig()

flags.DEFINE_string("model_dir", None, "Training run folder (config.json, best.keras).", required=True)
flags.DEFINE_string("export_dir", None, "Model base path; versions go in numbered subfolders.", required=True)
flags.DEFINE_integer("max_session_length", DEFAULTS.max_session_length,
                     "Requests keep their most recent this-many clicks; 0 = the longest training prefix.")
flags.DEFINE_integer("k", DEFAULTS.k,
                     "Recommendations returned by serving_default.")
flags.DEFINE_integer("max_batch_sessions", DEFAULTS.max_batch_sessions,
                     "TensorFlow signatures score requests of more sessions in slices of "
                     "this many, one at a time (bounds a request's working memory); 0 = whole requests at once.")
flags.DEFINE_integer("tflite_max_batch_sessions", DEFAULTS.tflite_max_batch_sessions,
                     "The same for the graph converted to TFLite (default 0: LiteRT runs "
                     "the slicing loop outside XNNPack, slower; see docs/deploying.md, Serving memory).")
flags.DEFINE_integer("rerank_candidates", DEFAULTS.rerank_candidates,
                     "K > 0 adds the signatures rerank_top_k and rerank_by_index: exact "
                     "scores for each session's K best items by the candidate-independent part of the score "
                     "(large catalogues; see docs/large_catalogues.md). 0 = exact signatures only.")
flags.DEFINE_integer("rerank_clusters", DEFAULTS.rerank_clusters,
                     "C > 0: the rerank signatures retrieve among the members of each "
                     "session's --rerank_probe best of C k-means clusters of the items (approximate; for millions "
                     "of items); 0 = among all items.")
flags.DEFINE_integer("rerank_probe", DEFAULTS.rerank_probe,
                     "Clusters searched per session (with --rerank_clusters).")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    from tagnn_tf.cli import run_or_exit
    from tagnn_tf.serving.savedmodel_export import export_savedmodel

    run_or_exit(export_savedmodel, FLAGS.model_dir, FLAGS.export_dir, FLAGS.max_session_length, FLAGS.k,
                max_batch_sessions=FLAGS.max_batch_sessions, tflite_max_batch_sessions=FLAGS.tflite_max_batch_sessions,
                rerank_candidates=FLAGS.rerank_candidates, rerank_clusters=FLAGS.rerank_clusters,
                rerank_probe=FLAGS.rerank_probe)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
