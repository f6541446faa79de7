"""SavedModel export in the TF Serving layout (`<export_dir>/<version>/`).

Signatures (see `serving_function.serve` for the request rules):
  serving_default(session_items int64 [batch, max_len]) -> scores, top_k_ids,
    top_k_scores (k = the export's `k`, default 20), used_item_count,
    invalid_item_count.
  top_k(session_items, k int32 scalar) -> the same without `scores` (small
    responses, e.g. for REST clients), k from the request.
  tflite_default(session_items) -> the outputs of serving_default, traced
    with separate scoring GEMMs: the graph `tflite_export` converts (TFLite
    copies the slices of serving_default's stacked GEMM).
`assets.extra/tf_serving_warmup_requests` holds PredictionLog records that TF
Serving replays on load; `assets.extra/tagnn_export.json` describes the export.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import List, Optional, Sequence

import keras
import tensorflow as tf

from tagnn_tf.layers.tensor_ops import serving_trace
from tagnn_tf.serving.serving_function import DEFAULT_K, INPUT_NAME, pad_sessions, serve
from tagnn_tf.training import run_files

WARMUP_FILE = "tf_serving_warmup_requests"
EXPORT_INFO = "tagnn_export.json"
TFLITE_SIGNATURE = "tflite_default"
MODEL_NAME = "tagnn"


def next_version(export_dir: str) -> int:
    """1 + the largest integer version folder in `export_dir` (1 if none)."""
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(n) for n in os.listdir(export_dir) if re.fullmatch(r"[0-9]+", n)]
    return max(versions, default=0) + 1


def build_archive(model: keras.Model, max_session_length: int, k: int = DEFAULT_K) -> keras.export.ExportArchive:
    """An ExportArchive with the `serving_default` and `top_k` signatures."""
    num_items = model.model_config.num_items
    if not 1 <= k <= num_items:
        raise ValueError(f"`k` must be in [1, num_items={num_items}]. Received: k={k}")
    if max_session_length < 1:
        raise ValueError(f"`max_session_length` must be >= 1. Received: max_session_length={max_session_length}")
    items_spec = tf.TensorSpec([None, None], tf.int64, name=INPUT_NAME)
    # The transposed candidate table, frozen: requests skip a [N, d] transpose.
    candidates_t = tf.Variable(tf.transpose(model.embedding.embeddings[1:]), trainable=False,
                               name="serving_candidates_t")
    archive = keras.export.ExportArchive()
    archive.track(model)

    # Traced inside serving_trace() whenever the archive traces them:
    # TFLite-builtin ops, and one stacked scoring GEMM except for TFLite.
    def traced_serve(session_items, top_k=k, stacked_scoring=True):
        with serving_trace(stacked_scoring):
            return serve(model, session_items, top_k, max_session_length, candidates_t)

    def top_k(session_items, k):
        out = traced_serve(session_items, k)
        return {name: value for name, value in out.items() if name != "scores"}  # small responses

    archive.add_endpoint("serving_default", traced_serve, input_signature=[items_spec])
    archive.add_endpoint("top_k", top_k, input_signature=[items_spec, tf.TensorSpec([], tf.int32, name="k")])
    archive.add_endpoint(TFLITE_SIGNATURE, lambda session_items: traced_serve(session_items, stacked_scoring=False),
                         input_signature=[items_spec])
    return archive


def warmup_records(sessions: Sequence[Sequence[int]]) -> List[bytes]:
    """Serialized PredictionLog records: PredictRequests of batch 1 and of all `sessions`."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    padded = pad_sessions(sessions)
    records = []
    for batch in sorted({1, len(sessions)}):
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(name=MODEL_NAME, signature_name="serving_default"))
        request.inputs[INPUT_NAME].CopyFrom(tf.make_tensor_proto(padded[:batch]))
        log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
        records.append(log.SerializeToString())
    return records


def export_savedmodel(model_dir: str, export_dir: str, max_session_length: int = 0, k: int = DEFAULT_K,
                      warmup_sessions: Optional[Sequence[Sequence[int]]] = None, log=print) -> str:
    """Exports `<model_dir>/best.keras` as `<export_dir>/<next version>/`; returns that path.

    Args:
      model_dir: a training run (config.json, best.keras).
      export_dir: the model base path TF Serving watches.
      max_session_length: requests keep their most recent this-many clicks;
        0 = the longest training session of the run's data.
      k: top-k of `serving_default`.
      warmup_sessions: sessions for the warmup requests; default: the first
        test sessions of the run's data.

    The version is written to a hidden temporary folder and renamed into place,
    so TF Serving never sees a half-written version and no version is
    overwritten.
    """
    from tagnn_tf.data.datasets import load_splits
    from tagnn_tf.training.evaluation import load_run

    config, model = load_run(model_dir)
    if max_session_length == 0 or warmup_sessions is None:
        splits = load_splits(config.data)
        if max_session_length == 0:
            max_session_length = int(splits.train.lengths.max())
        if warmup_sessions is None:
            warmup_sessions = [splits.test.prefix(i) for i in range(4)]
    version = next_version(export_dir)
    final = os.path.join(export_dir, str(version))
    tmp = os.path.join(export_dir, f".tmp-{version}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(export_dir, exist_ok=True)
    build_archive(model, max_session_length, k).write_out(tmp, verbose=False)
    extra = os.path.join(tmp, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(extra, WARMUP_FILE)) as writer:
        for record in warmup_records(warmup_sessions):
            writer.write(record)
    info = {"num_items": model.model_config.num_items, "max_session_length": max_session_length, "k": k,
            "input": INPUT_NAME, "score_column_i_is_item_id": "i + 1", "model": config.model.__dict__,
            "source_model": os.path.abspath(os.path.join(model_dir, run_files.BEST_MODEL)),
            "git_commit": run_files.git_commit()}
    run_files.write_json_atomic(os.path.join(extra, EXPORT_INFO), info)
    if os.path.exists(final):  # another export took this version meanwhile
        raise FileExistsError(f"{final} appeared during the export; rerun to take the next version")
    os.rename(tmp, final)
    log(f"exported version {version} to {final} (max_session_length {max_session_length}, k {k})")
    return final
