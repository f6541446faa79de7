"""Export a trained run for serving: `python -m export.export_savedmodel --model_dir=runs/x --export_dir=exports/tagnn`.

Writes `<export_dir>/<version>/` (TF Serving layout; the version is one more
than the largest existing one) from `<model_dir>/best.keras`, with the
`serving_default` and `top_k` signatures and TF Serving warmup requests.
"""

from tagnn_tf.runtime import configure_process

configure_process()

from absl import app, flags, logging  # noqa: E402

flags.DEFINE_string("model_dir", None, "Training run folder (config.json, best.keras).", required=True)
flags.DEFINE_string("export_dir", None, "Model base path; versions go in numbered subfolders.", required=True)
flags.DEFINE_integer("max_session_length", 0,
                     "Requests keep their most recent this-many clicks; 0 = the longest training prefix.")
flags.DEFINE_integer("k", 20, "Recommendations returned by serving_default.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    from tagnn_tf.cli import run_or_exit
    from tagnn_tf.serving.savedmodel_export import export_savedmodel

    run_or_exit(export_savedmodel, FLAGS.model_dir, FLAGS.export_dir, FLAGS.max_session_length, FLAGS.k)


if __name__ == "__main__":
    app.run(main)
