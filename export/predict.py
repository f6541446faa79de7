"""Send one request to an exported SavedModel or TFLite model, as a serving client would.

  python -m export.predict --saved_model=exports/tagnn/1 --session=SKU-12,SKU-7,SKU-12 [--k=10]
  python -m export.predict --tflite=exports/tagnn.tflite --session=SKU-12,SKU-7,SKU-12

The session is the shop's raw item ids, oldest first. Loads the export with
TensorFlow / LiteRT only (this binary never imports `tagnn_tf`), calls
`serving_default` (or `top_k` with --k), which take and return raw ids, and
prints the recommendations as JSON. `--saved_model` may also be the model base
path: its largest numbered version is used. The `.tflite` model speaks item
numbers: the vocabulary beside it (`<name>.items.txt`, written by
export.export_tflite) maps the ids both ways, and the JSON shows the numbers.
The request is checked against the models' request shape before the call
(`check_request`).
"""

import csv
import json
import os
import re
import sys
import tempfile

from absl import app, flags

from tagnn_tf.cli import parse_flags_or_exit

flags.DEFINE_string("saved_model", None, "Version folder, or the base path holding numbered versions.")
flags.DEFINE_string("tflite", None, "A .tflite file written by export.export_tflite (instead of --saved_model).")
flags.DEFINE_string("session", None, "Item ids of the session, oldest first, comma-separated exactly as written "
                    "(spaces are part of an id; CSV quoting for an id with a comma: '\"A,1\",B').", required=True)
flags.DEFINE_integer("k", 0, "Recommendations to return via the `top_k` signature; 0 = serving_default's.")
FLAGS = flags.FLAGS


def resolve_version(path: str) -> str:
    """`path` if it is a SavedModel, else its newest numbered version (as TF Serving picks it).

    Raises:
      ValueError: neither, or the newest version holds no SavedModel.
    """
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = [n for n in os.listdir(path) if re.fullmatch(r"[0-9]+", n)] if os.path.isdir(path) else []
    if not versions:
        raise ValueError(f"{path} is neither a SavedModel nor a folder of numbered versions")
    newest = os.path.join(path, max(versions, key=int))
    if not os.path.exists(os.path.join(newest, "saved_model.pb")):
        raise ValueError(f"{newest} (the newest version) holds no saved_model.pb: an incomplete copy? TF Serving "
                         f"would fail to load it too; remove it, or pass a version folder to --saved_model")
    return newest


def parse_session(text: str) -> list:
    """The `--session` flag's item ids: comma-separated, exactly as written (no stripping), CSV quoting.

    Raises:
      ValueError: bytes that are not UTF-8 (raw ids are UTF-8 text in the export's vocabulary).
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("--session holds bytes that are not UTF-8 (the export's ids are UTF-8 text)") from None
    if text == "":
        return []
    return next(csv.reader([text]))


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


def check_request(request, kind: str = "int64") -> None:
    """Refuses what the exported models do not define as a request.

    A request is `session_items` of rank 2 `[batch, length]` with batch >= 1
    (TFLite cannot run batch 0; the SavedModel answers it with empty outputs)
    and length >= 0 (0: no clicks, answered with no recommendation): raw ids
    (`kind="string"`: text; serving_default, top_k) or item numbers (`int64`:
    by_index and the TFLite model). Raises ValueError naming what is wrong.
    """
    shape = tuple(request.shape)
    if len(shape) != 2:
        raise ValueError(f"session_items must have rank 2 [batch, length]. Received: shape {list(shape)}")
    if shape[0] < 1:
        raise ValueError(f"session_items must hold at least one session (batch >= 1). Received: shape {list(shape)}")
    is_text = request.dtype.kind in "OUS"
    if (kind == "string") != is_text or (kind == "int64" and str(request.dtype) != "int64"):
        raise ValueError(f"session_items must be {'raw ids (text)' if kind == 'string' else 'int64'}. "
                         f"Received: {request.dtype}")


def tflite_vocabulary(tflite_path: str) -> list:
    """The item vocabulary written beside a .tflite file (line i = raw id of item i)."""
    path = os.path.splitext(tflite_path)[0] + ".items.txt"
    if not os.path.exists(path):
        sys.exit(f"error: {path} not found: the vocabulary export.export_tflite writes beside the model")
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if bool(FLAGS.saved_model) == bool(FLAGS.tflite):
        sys.exit("error: give exactly one of --saved_model and --tflite")
    import numpy as np

    try:
        session = parse_session(FLAGS.session)
    except ValueError as e:
        sys.exit(f"error: {e}")
    if FLAGS.tflite:
        from ai_edge_litert.interpreter import Interpreter

        if FLAGS.k:
            sys.exit("error: --k needs --saved_model (the .tflite has serving_default only)")
        items = tflite_vocabulary(FLAGS.tflite)
        numbers = {item: n for n, item in enumerate(items, start=1)}
        request = np.array([[numbers[i] for i in session if i in numbers]], np.int64)
        unknown = sum(i not in numbers for i in session)
        try:
            check_request(request, "int64")
        except ValueError as e:
            sys.exit(f"error: {e}")
        out = Interpreter(model_path=FLAGS.tflite).get_signature_runner("serving_default")(session_items=request)
        top = out["top_k_ids"][0].tolist()
        result = {"tflite": FLAGS.tflite, "session": session, "item_numbers_sent": request[0].tolist(),
                  "unknown_item_count": unknown, "used_item_count": int(out["used_item_count"][0]),
                  "top_k_item_numbers": top, "top_k_ids": [items[n - 1] if n else "" for n in top]}
    else:
        request = np.array([session], dtype=object).reshape(1, -1)
        try:
            check_request(request, "string")
        except ValueError as e:
            sys.exit(f"error: {e}")
        tf = import_tensorflow()
        try:
            version = resolve_version(FLAGS.saved_model)
        except ValueError as e:
            sys.exit(f"error: {e}")
        loaded = tf.saved_model.load(version)
        raw = tf.constant(request.astype(str) if request.size else np.zeros((1, 0), str))
        if FLAGS.k:
            out = loaded.signatures["top_k"](session_items=raw, k=tf.constant(FLAGS.k, tf.int32))
        else:
            out = loaded.signatures["serving_default"](session_items=raw)
        out = {name: value.numpy() for name, value in out.items()}
        result = {"saved_model": version, "session": session, "used_item_count": int(out["used_item_count"][0]),
                  "unknown_item_count": int(out["unknown_item_count"][0]),
                  "top_k_ids": [i.decode() for i in out["top_k_ids"][0]]}
    result["top_k_scores"] = [round(float(s), 4) for s in out["top_k_scores"][0]]
    print(json.dumps(result))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
