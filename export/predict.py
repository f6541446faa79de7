"""Send one request to an exported SavedModel or TFLite model, as a serving client would.

  python -m export.predict --saved_model=exports/tagnn/1 --session=12,7,12,31 [--k=10]
  python -m export.predict --tflite=exports/tagnn.tflite --session=12,7,12,31

Loads the export with TensorFlow / LiteRT only (this binary never imports
`tagnn_tf`), calls `serving_default` (or `top_k` with --k) on one session and
prints the recommendations as JSON. `--saved_model` may also be the model
base path: its largest numbered version is used. The request is checked
against the models' request shape before the call (`check_request`).
"""

import json
import os
import re
import sys
import tempfile

from absl import app, flags

flags.DEFINE_string("saved_model", None, "Version folder, or the base path holding numbered versions.")
flags.DEFINE_string("tflite", None, "A .tflite file written by export.export_tflite (instead of --saved_model).")
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


def check_request(request) -> None:
    """Refuses what the exported models do not define as a request.

    A request is `session_items`: int64, rank 2 `[batch, length]` with
    batch >= 1 (TFLite cannot run batch 0; the SavedModel answers it with
    empty outputs) and length >= 0 (0: no clicks, answered with no
    recommendation). Raises ValueError naming what is wrong.
    """
    shape = tuple(request.shape)
    if len(shape) != 2:
        raise ValueError(f"session_items must have rank 2 [batch, length]. Received: shape {list(shape)}")
    if shape[0] < 1:
        raise ValueError(f"session_items must hold at least one session (batch >= 1). Received: shape {list(shape)}")
    if str(request.dtype) != "int64":
        raise ValueError(f"session_items must be int64. Received: {request.dtype}")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if bool(FLAGS.saved_model) == bool(FLAGS.tflite):
        sys.exit("error: give exactly one of --saved_model and --tflite")
    try:
        items = [[int(x) for x in FLAGS.session]]
    except ValueError:
        sys.exit(f"error: --session must be comma-separated integers. Received: {','.join(FLAGS.session)}")
    import numpy as np

    request = np.array(items, np.int64).reshape(len(items), -1)
    try:
        check_request(request)
    except ValueError as e:
        sys.exit(f"error: {e}")
    if FLAGS.tflite:
        from ai_edge_litert.interpreter import Interpreter

        if FLAGS.k:
            sys.exit("error: --k needs --saved_model (the .tflite has serving_default only)")
        out = Interpreter(model_path=FLAGS.tflite).get_signature_runner("serving_default")(session_items=request)
        source = {"tflite": FLAGS.tflite}
    else:
        tf = import_tensorflow()
        version = resolve_version(FLAGS.saved_model)
        loaded = tf.saved_model.load(version)
        if FLAGS.k:
            out = loaded.signatures["top_k"](session_items=tf.constant(request), k=tf.constant(FLAGS.k, tf.int32))
        else:
            out = loaded.signatures["serving_default"](session_items=tf.constant(request))
        out = {name: value.numpy() for name, value in out.items()}
        source = {"saved_model": version}
    print(json.dumps({
        **source, "session": items[0],
        "used_item_count": int(out["used_item_count"][0]), "invalid_item_count": int(out["invalid_item_count"][0]),
        "top_k_ids": out["top_k_ids"][0].tolist(),
        "top_k_scores": [round(float(s), 4) for s in out["top_k_scores"][0]],
    }))


if __name__ == "__main__":
    app.run(main)
