"""A SavedModel client that only uses TensorFlow (never `tagnn_tf`).

  python savedmodel_client.py <version_dir> <requests.npz> <out.npz> [<model.tflite>]

Loads the export, runs every request in `requests.npz` (arrays named
`req_<name>`, optional `k_<name>` for the `top_k` signature) and writes each
output as `<name>__<output>` (and, for `serving_default` requests, the
`tflite_default` signature's as `tflite_default__<name>__<output>`); replays the TF Serving warmup records and writes
their output shapes; records whether the wrong dtype is refused. An export
with the rerank signatures also answers every request through them
(`rerank__<name>__<output>`). With a
`.tflite` file, also runs the `serving_default` requests through the LiteRT
interpreter (outputs `tflite__<name>__<output>`).
"""

import importlib.util
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def run_tflite(path, requests, out):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=path).get_signature_runner("serving_default")
    for key in requests.files:
        name = key[4:]
        if key.startswith("req_") and f"k_{name}" not in requests.files:
            for output, value in runner(session_items=requests[key].astype(np.int64)).items():
                out[f"tflite__{name}__{output}"] = value


def _array(tensor):
    """A tensor's value for np.savez: text as fixed-width bytes (object arrays would need pickle)."""
    value = tensor.numpy()
    return value.astype(bytes) if value.dtype == object else value


def main(version_dir, requests_path, out_path, tflite_path=None):
    loaded = tf.saved_model.load(version_dir)
    serve = loaded.signatures["serving_default"]  # raw ids (strings)
    top_k = loaded.signatures["top_k"]
    by_index = loaded.signatures["by_index"]  # item numbers (int64)
    tflite_default = loaded.signatures["tflite_default"]
    requests = np.load(requests_path)
    out = {}
    for key in requests.files:
        if not key.startswith("req_"):
            continue
        name = key[4:]
        items = tf.constant(requests[key], tf.int64)
        # The export's vocabulary is the identity one ("1".."N"): a number's raw id is its text.
        raw = tf.constant(np.where(requests[key] == 0, "", requests[key].astype(str)))
        if f"k_{name}" in requests.files:
            result = top_k(session_items=raw, k=tf.constant(int(requests[f"k_{name}"]), tf.int32))
        else:
            result = by_index(session_items=items)
            for output, value in tflite_default(session_items=items).items():
                out[f"tflite_default__{name}__{output}"] = _array(value)
            for output, value in serve(session_items=raw).items():
                out[f"raw__{name}__{output}"] = _array(value)
        for output, value in result.items():
            out[f"{name}__{output}"] = _array(value)
        if "rerank_by_index" in loaded.signatures:  # an export with --rerank_candidates
            rerank = (loaded.signatures["rerank_top_k"](session_items=raw, k=tf.constant(int(requests[f"k_{name}"])))
                      if f"k_{name}" in requests.files else loaded.signatures["rerank_by_index"](session_items=items))
            for output, value in rerank.items():
                out[f"rerank__{name}__{output}"] = _array(value)

    # Warmup records: PredictionLog protos, replayed through the signature they name.
    from tensorflow_serving.apis import prediction_log_pb2

    warmup = os.path.join(version_dir, "assets.extra", "tf_serving_warmup_requests")
    shapes = []
    for record in tf.data.TFRecordDataset(warmup):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        fn = loaded.signatures[request.model_spec.signature_name or "serving_default"]
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        result = fn(**{k: tf.constant(v) for k, v in inputs.items()})
        assert all(np.isfinite(v.numpy()).all() for v in result.values() if v.dtype.is_floating)
        shapes.append([request.model_spec.signature_name, inputs["session_items"].dtype.kind,
                       list(inputs["session_items"].shape), list(result["scores"].shape)])
    out["warmup_shapes"] = np.array(json.dumps(shapes))

    try:
        by_index(session_items=tf.constant([[1, 2]], tf.int32))
        out["int32_refused"] = np.array(False)
    except (TypeError, ValueError, tf.errors.InvalidArgumentError) as e:
        out["int32_refused"] = np.array(True)
        out["int32_error"] = np.array(str(e)[:300])

    if tflite_path:
        run_tflite(tflite_path, requests, out)
    out["imported_tagnn_tf"] = np.array(any(m.startswith("tagnn_tf") for m in sys.modules))
    # tagnn_tf is installed in this environment (`pip install -e .`), so the
    # line above would see it had loading the export pulled it in.
    out["tagnn_tf_importable"] = np.array(importlib.util.find_spec("tagnn_tf") is not None)
    out["signature_inputs"] = np.array(json.dumps(
        {name: sorted(sig.structured_input_signature[1]) for name, sig in loaded.signatures.items()}))
    out["signature_outputs"] = np.array(json.dumps(
        {name: sorted(sig.structured_outputs) for name, sig in loaded.signatures.items()}))
    np.savez(out_path, **out)


if __name__ == "__main__":
    main(*sys.argv[1:5])
