"""Send one request to an exported SavedModel, as a serving client would.

  python -m export.predict --saved_model=exports/tagnn/1 --session=12,7,12,31 [--k=10]

Loads the SavedModel with TensorFlow only (this binary never imports
`tagnn_tf`), calls `serving_default` (or `top_k` with --k) on one session and
prints the recommendations as JSON. `--saved_model` may also be the model
base path: its largest numbered version is used.
"""

import json
import os
import re
import sys
import tempfile

from absl import app, flags

flags.DEFINE_string("saved_model", None, "Version folder, or the base path holding numbered versions.",
                    required=True)
flags.DEFINE_list("session", None, "Item ids of the session, oldest first.", required=True)
flags.DEFINE_integer("k", 0, "Recommendations to return via the `top_k` signature; 0 = serving_default's.")
FLAGS = flags.FLAGS


def resolve_version(path: str) -> str:
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = [n for n in os.listdir(path) if re.fullmatch(r"[0-9]+", n)] if os.path.isdir(path) else []
    if not versions:
        sys.exit(f"error: {path} is neither a SavedModel nor a folder of numbered versions")
    return os.path.join(path, max(versions, key=int))


# TensorFlow's native start-up notices (written to the stderr descriptor before
# any log level applies). `tagnn_tf.runtime` filters the same lines for the
# library's binaries; this client stays free of `tagnn_tf`, so it has its own copy.
_NOTICES = ("absl::InitializeLog()", "oneDNN custom operations are on", "Could not find cuda drivers",
            "This TensorFlow binary is optimized", "To enable the following instructions:")


def import_tensorflow():
    """TensorFlow, imported with its start-up notices left out of stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            no_driver = not os.path.exists("/dev/nvidiactl")
            for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not any(n in line for n in _NOTICES) and not (no_driver and "failed call to cuInit" in line):
                    sys.stderr.write(line)
    return tf


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        items = [[int(x) for x in FLAGS.session]]
    except ValueError:
        sys.exit(f"error: --session must be comma-separated integers. Received: {','.join(FLAGS.session)}")
    tf = import_tensorflow()
    version = resolve_version(FLAGS.saved_model)
    loaded = tf.saved_model.load(version)
    request = tf.constant(items, tf.int64)
    if FLAGS.k:
        out = loaded.signatures["top_k"](session_items=request, k=tf.constant(FLAGS.k, tf.int32))
    else:
        out = loaded.signatures["serving_default"](session_items=request)
    print(json.dumps({
        "saved_model": version, "session": items[0],
        "used_item_count": int(out["used_item_count"][0]), "invalid_item_count": int(out["invalid_item_count"][0]),
        "top_k_ids": out["top_k_ids"][0].numpy().tolist(),
        "top_k_scores": [round(float(s), 4) for s in out["top_k_scores"][0].numpy()],
    }))


if __name__ == "__main__":
    app.run(main)
