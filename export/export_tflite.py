"""Convert an exported SavedModel to TFLite (builtin ops only).

  python -m export.export_tflite --saved_model=exports/tagnn/1 --output=exports/tagnn.tflite \
      [--quantization=none|float16|dynamic_range] [--signature=tflite_default]
"""

from tagnn_tf.runtime import configure_process

configure_process()

from absl import app, flags, logging  # noqa: E402

from tagnn_tf.cli import parse_flags_or_exit  # noqa: E402

flags.DEFINE_string("saved_model", None, "A version folder written by export.export_savedmodel.", required=True)
flags.DEFINE_string("output", None, "The .tflite file to write.", required=True)
flags.DEFINE_enum("quantization", "none", ["none", "float16", "dynamic_range"], "Weight quantisation.")
flags.DEFINE_string("signature", "", "SavedModel signature to convert (default: tflite_default, or serving_default "
                    "in exports without it).")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    from tagnn_tf.cli import run_or_exit
    from tagnn_tf.serving.tflite_export import convert_savedmodel

    path = run_or_exit(convert_savedmodel, FLAGS.saved_model, FLAGS.output, FLAGS.quantization, FLAGS.signature)
    print(f"wrote {path}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
