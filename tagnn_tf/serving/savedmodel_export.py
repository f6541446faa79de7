"""SavedModel export in the TF Serving layout (`<export_dir>/<version>/`).

Signatures (the computation of `SessionRecommender`; request rules in
`SessionPreprocessor`):
  serving_default(session_items string [batch, max_len]: the shop's raw item
    ids, "" = padding) -> scores (columns in the vocabulary's order),
    top_k_ids (raw ids, string), top_k_scores (k = the export's `k`, default
    20), used_item_count, unknown_item_count (ids not in the vocabulary).
  top_k(session_items string, k int32 scalar) -> the same without `scores`
    (small responses, e.g. for REST clients), k from the request.
  by_index(session_items int64 [batch, max_len]: item numbers 1..N, 0 =
    padding) -> scores, top_k_ids (int64 numbers), top_k_scores,
    used_item_count, invalid_item_count.
  tflite_default(session_items int64) -> the outputs of by_index, with the
    scoring mode `tflite` (separate scoring GEMMs, TFLite builtins): the graph
    `tflite_export` converts (TFLite copies the slices of the stacked GEMM).
With `rerank_candidates=K` > 0 (TAGNN-family models), also:
  rerank_top_k(session_items string, k int32 scalar) -> top_k's outputs,
    computed by retrieve-then-rerank (`TAGNN.rerank`): the exact score of
    each session's K best items by the candidate-independent part of the
    score (or, with `rerank_clusters=C`, among the members of the session's
    `rerank_probe` best of C item clusters); k <= K.
  rerank_by_index(session_items int64) -> the same for item numbers, k = the
    export's `k`.
The vocabulary (`items.txt`: line i = raw id of item i) is in `assets/`.
`assets.extra/tf_serving_warmup_requests` holds PredictionLog records that TF
Serving replays on load; `assets.extra/tagnn_export.json` describes the export,
each signature's `SessionRecommender` config (scoring mode included) among it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from typing import List, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from tagnn_tf import item_ids, model_registry, run_directory
from tagnn_tf.config import ExportConfig
from tagnn_tf.errors import InputError
from tagnn_tf.layers.session_preprocessor import SessionPreprocessor
from tagnn_tf.models import model_builder
from tagnn_tf.models.model_builder import needs_click_alias
from tagnn_tf.serving.session_recommender import (DEFAULT_K, DEFAULT_MAX_BATCH_SESSIONS,
                                                   DEFAULT_TFLITE_MAX_BATCH_SESSIONS, INPUT_NAME, SessionRecommender,
                                                   pad_sessions)

WARMUP_FILE = "tf_serving_warmup_requests"
EXPORT_INFO = "tagnn_export.json"
TFLITE_SIGNATURE = "tflite_default"
BY_INDEX_SIGNATURE = "by_index"
RERANK_TOP_K_SIGNATURE = "rerank_top_k"
RERANK_BY_INDEX_SIGNATURE = "rerank_by_index"
MODEL_NAME = "tagnn"


def next_version(export_dir: str) -> int:
    """1 + the largest integer version folder in `export_dir` (1 if none)."""
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(n) for n in os.listdir(export_dir) if re.fullmatch(r"[0-9]+", n)]
    return max(versions, default=0) + 1


def serving_models(model: keras.Model, max_session_length: int, vocabulary_file: str, k: int = DEFAULT_K,
                   max_batch_sessions: int = DEFAULT_MAX_BATCH_SESSIONS,
                   tflite_max_batch_sessions: int = DEFAULT_TFLITE_MAX_BATCH_SESSIONS,
                   rerank_candidates: int = 0, rerank_probe: int = 16) -> dict:
    """Signature name -> the `SessionRecommender` it calls (all share `model`'s weights).

    `vocabulary_file`: `items.txt` of the run (raw ids of items 1..N).
    `max_batch_sessions` slices the TensorFlow signatures' requests,
    `tflite_max_batch_sessions` the graph converted to TFLite (0 = whole).
    `rerank_candidates` > 0 adds the two rerank signatures.
    """
    if max_session_length < 1:
        raise InputError(f"`max_session_length` must be >= 1. Received: max_session_length={max_session_length}")
    preprocessor = SessionPreprocessor(model.num_items, max_session_length, vocabulary_file=vocabulary_file,
                                       with_click_alias=needs_click_alias(model),
                                       name="session_preprocessor")
    serve = SessionRecommender(model, preprocessor, k, scoring_mode="serve", max_batch_sessions=max_batch_sessions,
                               name="recommender")
    tflite = SessionRecommender(model, preprocessor, k, scoring_mode="tflite",
                                max_batch_sessions=tflite_max_batch_sessions, name="tflite_recommender")
    out = {"serving_default": serve, "top_k": serve, BY_INDEX_SIGNATURE: serve, TFLITE_SIGNATURE: tflite}
    if rerank_candidates:
        rerank = SessionRecommender(model, preprocessor, k, scoring_mode="serve",
                                    max_batch_sessions=max_batch_sessions, rerank_candidates=rerank_candidates,
                                    rerank_probe=rerank_probe, name="rerank_recommender")
        out.update({RERANK_TOP_K_SIGNATURE: rerank, RERANK_BY_INDEX_SIGNATURE: rerank})
    return out


def build_archive(model: keras.Model, recommenders: dict, clusters=None) -> keras.export.ExportArchive:
    """An ExportArchive with the `serving_default`, `top_k`, `by_index` and `tflite_default` signatures
    (and the rerank ones when `recommenders` has them), each calling its recommender of `serving_models`.

    `clusters`: optional `(centroids [C, d], members [C, M])` (NumPy;
    `item_clusters.kmeans_clusters`): the rerank signatures then retrieve
    among the members of each session's `rerank_probe` best clusters, not all items.
    """
    raw_spec = tf.TensorSpec([None, None], tf.string, name=INPUT_NAME)
    numbers_spec = tf.TensorSpec([None, None], tf.int64, name=INPUT_NAME)
    # The transposed candidate table, frozen: requests skip a [N, d] transpose.
    candidates_t = tf.Variable(model.candidate_table_t(), trainable=False, name="serving_candidates_t")
    archive = keras.export.ExportArchive()
    archive.track(model)
    for table in recommenders["serving_default"].preprocessor.lookup_tables():
        archive.track(table)  # the vocabulary file goes into the SavedModel's assets/

    def serving_default(session_items):
        return recommenders["serving_default"](session_items, candidates_t=candidates_t)

    def top_k(session_items, k):
        # Small responses: no `scores`, which is never accumulated over the request's slices.
        return recommenders["top_k"](session_items, k=k, candidates_t=candidates_t, with_scores=False)

    def by_index(session_items):
        return recommenders[BY_INDEX_SIGNATURE](session_items, candidates_t=candidates_t)

    def tflite_default(session_items):
        return recommenders[TFLITE_SIGNATURE](session_items, candidates_t=candidates_t)

    archive.add_endpoint("serving_default", serving_default, input_signature=[raw_spec])
    archive.add_endpoint("top_k", top_k, input_signature=[raw_spec, tf.TensorSpec([], tf.int32, name="k")])
    archive.add_endpoint(BY_INDEX_SIGNATURE, by_index, input_signature=[numbers_spec])
    archive.add_endpoint(TFLITE_SIGNATURE, tflite_default, input_signature=[numbers_spec])
    if RERANK_TOP_K_SIGNATURE in recommenders:
        index = None
        if clusters is not None:
            centroids, members = clusters
            index = (tf.Variable(np.asarray(centroids).T, trainable=False, name="serving_centroids_t"),
                     tf.Variable(members, trainable=False, name="serving_cluster_members"))

        def rerank_top_k(session_items, k):
            return recommenders[RERANK_TOP_K_SIGNATURE](session_items, k=k, candidates_t=candidates_t,
                                                        with_scores=False, clusters=index)

        def rerank_by_index(session_items):
            return recommenders[RERANK_BY_INDEX_SIGNATURE](session_items, candidates_t=candidates_t,
                                                           with_scores=False, clusters=index)

        archive.add_endpoint(RERANK_TOP_K_SIGNATURE, rerank_top_k,
                             input_signature=[raw_spec, tf.TensorSpec([], tf.int32, name="k")])
        archive.add_endpoint(RERANK_BY_INDEX_SIGNATURE, rerank_by_index, input_signature=[numbers_spec])
    return archive


def warmup_records(sessions: Sequence[Sequence[int]], items: Sequence[str]) -> List[bytes]:
    """Serialized PredictionLog records: PredictRequests of batch 1 and of all `sessions`, to
    `serving_default` (the sessions' raw ids from `items`) and to `by_index` (their numbers)."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    padded = pad_sessions(sessions)
    raw = np.array([[items[i - item_ids.FIRST_ITEM_ID] if i else "" for i in row] for row in padded], dtype=object)
    records = []
    for signature, request_items in (("serving_default", raw), (BY_INDEX_SIGNATURE, padded)):
        for batch in sorted({1, len(sessions)}):
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=MODEL_NAME, signature_name=signature))
            request.inputs[INPUT_NAME].CopyFrom(tf.make_tensor_proto(request_items[:batch]))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            records.append(log.SerializeToString())
    return records


def signature_tensor_names(version_dir: str) -> dict:
    """`{signature: {"inputs": {name: graph tensor}, "outputs": {...}}}` of a written SavedModel: the names
    a C API or TF Session client feeds and fetches (they change with the signatures an export has)."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(version_dir, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    signatures = saved.meta_graphs[0].signature_def
    return {name: {"inputs": {k: v.name for k, v in sorted(sig.inputs.items())},
                   "outputs": {k: v.name for k, v in sorted(sig.outputs.items())}}
            for name, sig in sorted(signatures.items()) if not name.startswith("__")}


def check_rerank_options(rerank_candidates: int, rerank_clusters: int, rerank_probe: int) -> None:
    """Refuses rerank options that cannot work together (before anything is loaded or written)."""
    if rerank_candidates < 0 or rerank_clusters < 0:
        raise InputError(f"--rerank_candidates and --rerank_clusters must be >= 0. Received: "
                         f"{rerank_candidates}, {rerank_clusters}")
    if rerank_clusters and not rerank_candidates:
        raise InputError(f"--rerank_clusters={rerank_clusters} needs --rerank_candidates=K > 0 (the clusters only "
                         "serve the rerank signatures)")
    if rerank_clusters and not 1 <= rerank_probe <= rerank_clusters:
        raise InputError(f"--rerank_probe must be in [1, --rerank_clusters={rerank_clusters}]. Received: "
                         f"rerank_probe={rerank_probe}")


def export_savedmodel(model_dir: str, export_dir: str, max_session_length: int = ExportConfig.max_session_length,
                      k: int = ExportConfig.k, warmup_sessions: Optional[Sequence[Sequence[int]]] = None, log=print,
                      max_batch_sessions: int = ExportConfig.max_batch_sessions,
                      tflite_max_batch_sessions: int = ExportConfig.tflite_max_batch_sessions,
                      rerank_candidates: int = ExportConfig.rerank_candidates,
                      rerank_clusters: int = ExportConfig.rerank_clusters,
                      rerank_probe: int = ExportConfig.rerank_probe) -> str:
    """Exports `<model_dir>/best.keras` as `<export_dir>/<next version>/`; returns that path.

    Args:
      model_dir: a training run (config.json, best.keras).
      export_dir: the model base path TF Serving watches.
      max_session_length: requests keep their most recent this-many clicks;
        0 = the longest training session of the run's data.
      k: top-k of `serving_default`.
      warmup_sessions: sessions for the warmup requests; default: the first
        test sessions of the run's data.
      max_batch_sessions: requests of more sessions are scored in slices of
        this many (bounds a request's working memory); 0 = never sliced.
      tflite_max_batch_sessions: the same for `tflite_default`, the graph
        converted to TFLite (default 0: see `DEFAULT_TFLITE_MAX_BATCH_SESSIONS`).
      rerank_candidates: K > 0 adds `rerank_top_k` and `rerank_by_index`
        (retrieve K by the candidate-independent score part, rerank exactly).
      rerank_clusters: C > 0: the rerank signatures retrieve among the
        members of each session's `rerank_probe` best of C k-means clusters
        of the item vectors (approximate, far cheaper at millions of items);
        0 = among all items.

    The version is written to a hidden temporary folder and renamed into place,
    so TF Serving never sees a half-written version and no version is
    overwritten.
    """
    from tagnn_tf.data.datasets import load_splits

    check_rerank_options(rerank_candidates, rerank_clusters, rerank_probe)
    config, model = model_builder.load_run(model_dir)
    if rerank_candidates and "rerank" not in model_registry.get(config.model.name).exports:
        raise InputError(f"--rerank_candidates: --model={config.model.name} has no rerank signatures (the models "
                         f"with them: {model_registry.names_with('rerank')})")
    if max_session_length == 0 or warmup_sessions is None:
        splits = load_splits(config.data)
        run_directory.check_run_items(model_dir, splits.items, "export it with this data's sessions")
        if max_session_length == 0:
            max_session_length = splits.train.max_prefix_length
        if warmup_sessions is None:
            warmup_sessions = [splits.test.prefix(i) for i in range(4)]
    items = run_directory.read_items(model_dir, model.num_items)
    if len(items) != model.num_items:
        raise InputError(f"{os.path.join(model_dir, run_directory.ITEMS)} holds {len(items)} item ids but the model "
                         f"has {model.num_items} items")
    version = next_version(export_dir)
    final = os.path.join(export_dir, str(version))
    tmp = os.path.join(export_dir, f".tmp-{version}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(export_dir, exist_ok=True)
    # The vocabulary the tables read; the SavedModel copies it into its assets/.
    vocabulary_dir = tempfile.mkdtemp(prefix="tagnn_vocabulary_")
    vocabulary_file = os.path.join(vocabulary_dir, run_directory.ITEMS)
    run_directory.write_items(vocabulary_dir, items)
    recommenders = serving_models(model, max_session_length, vocabulary_file, k, max_batch_sessions,
                                  tflite_max_batch_sessions, rerank_candidates, rerank_probe)
    clusters = None
    if rerank_candidates and rerank_clusters:
        from tagnn_tf.retrieval.item_clusters import kmeans_clusters

        vectors = keras.ops.convert_to_numpy(item_ids.candidate_rows(model.candidate_embeddings()))
        centroids, members = kmeans_clusters(vectors, rerank_clusters)
        del vectors  # a copy of the table (4 GB at 10M items)
        if rerank_probe * members.shape[1] < rerank_candidates:
            raise InputError(f"`rerank_probe` x the largest cluster ({rerank_probe} x {members.shape[1]}) must be at "
                             f"least rerank_candidates={rerank_candidates}: use fewer clusters or a larger probe")
        clusters = (centroids, members)
    try:
        build_archive(model, recommenders, clusters).write_out(tmp, verbose=False)
    finally:
        shutil.rmtree(vocabulary_dir, ignore_errors=True)
    extra = os.path.join(tmp, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(extra, WARMUP_FILE)) as writer:
        for record in warmup_records(warmup_sessions, items):
            writer.write(record)
    info = {"num_items": model.num_items, "max_session_length": max_session_length, "k": k,
            "input": INPUT_NAME, "score_column_i_is_item_id": f"i + {item_ids.FIRST_ITEM_ID}",
            "model": config.model.__dict__,
            "signatures": {name: {"scoring_mode": r.scoring_mode, "k": r.k,
                                  "max_session_length": r.preprocessor.max_session_length,
                                  "max_batch_sessions": r.max_batch_sessions,
                                  "rerank_candidates": r.rerank_candidates,
                                  **({"rerank_clusters": rerank_clusters, "rerank_probe": rerank_probe,
                                      "rerank_largest_cluster": int(clusters[1].shape[1])}
                                     if r.rerank_candidates and clusters else {})}
                           for name, r in recommenders.items()},
            "vocabulary": f"assets/{run_directory.ITEMS}", "input_dtypes": {
                "serving_default": "string (raw item ids)", "top_k": "string (raw item ids)",
                BY_INDEX_SIGNATURE: "int64 (item numbers)", TFLITE_SIGNATURE: "int64 (item numbers)",
                **({RERANK_TOP_K_SIGNATURE: "string (raw item ids)", RERANK_BY_INDEX_SIGNATURE: "int64 (item numbers)"}
                   if rerank_candidates else {})},
            "tensor_names": signature_tensor_names(tmp),
            "source_model": os.path.abspath(os.path.join(model_dir, run_directory.BEST_MODEL)),
            "git_commit": run_directory.git_commit()}
    run_directory.write_json_atomic(os.path.join(extra, EXPORT_INFO), info)
    if os.path.exists(final):  # another export took this version meanwhile
        raise FileExistsError(f"{final} appeared during the export; rerun to take the next version")
    os.rename(tmp, final)
    log(f"exported version {version} to {final} (max_session_length {max_session_length}, k {k})")
    return final
