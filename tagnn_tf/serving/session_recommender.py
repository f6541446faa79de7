"""The served model: raw item-id requests in, catalogue scores and top-k out.

`SessionRecommender` is a `keras.Model` (keras-hub's task pattern) that owns
the `SessionPreprocessor` (request cleaning + session graphs) and the trained
`TAGNN`; the exported signatures call it. Request rules are the
preprocessor's; a row left with no valid click gets `scores` all 0,
`top_k_ids` all 0 (no recommendation) and `top_k_scores` all 0, with
`used_item_count` 0.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tagnn_tf import item_ids
from tagnn_tf.arguments import SCORING_MODES, check_choice, check_positive
from tagnn_tf.config import ExportConfig
from tagnn_tf.errors import InputError
from tagnn_tf.layers.session_preprocessor import SessionPreprocessor

INPUT_NAME = "session_items"
# The defaults' single home is `tagnn_tf.config.ExportConfig` (why each value: its docstring).
DEFAULT_K = ExportConfig.k
DEFAULT_MAX_BATCH_SESSIONS = ExportConfig.max_batch_sessions
DEFAULT_TFLITE_MAX_BATCH_SESSIONS = ExportConfig.tflite_max_batch_sessions


def pad_sessions(sessions, width=None) -> np.ndarray:
    """int64 `[len(sessions), width]` request, right-padded with 0 (width: the longest session)."""
    width = max((len(s) for s in sessions), default=0) if width is None else width
    out = np.zeros((len(sessions), width), np.int64)
    for i, s in enumerate(sessions):
        out[i, :len(s)] = s
    return out


@keras.saving.register_keras_serializable(package="tagnn_tf")
class SessionRecommender(keras.Model):
    """Preprocessor + model + top-k: what the serving signatures compute.

    Args:
      model: a built `TAGNN` with `padding="masked"`, or a neural baseline
        (`tagnn_tf.models`: the same call and `candidate_table_t()`).
      preprocessor: a `SessionPreprocessor` with the model's `num_items` and a
        `max_session_length`.
      k: default number of recommendations.
      scoring_mode: how `model` computes its scores (`tagnn_tf.arguments.
        SCORING_MODES`): `serve` for TensorFlow signatures, `tflite` for the
        graph converted to TFLite. Both give the same scores; the choice is
        recorded in `get_config()` and in the export's `tagnn_export.json`.
      max_batch_sessions: a request of more sessions is scored in consecutive
        slices of this many (one at a time), so the working memory of a
        request is bounded by that of one slice, whatever its batch; 0 = the
        whole request at once. The outputs do not depend on it.
      rerank_candidates: 0 = exact scores of every item; K > 0 = retrieve,
        then rerank (`TAGNN.rerank`): the exact score of each session's K
        best items by the candidate-independent part of the score, top-k
        among them (k <= K). No `scores` output then.

      rerank_probe: with `clusters` (call arg): clusters searched per session.

    Call arg `clusters`: optional `(centroids_t [d, C], members [C, M])` for
    the rerank mode's retrieval (`tagnn_tf.retrieval.item_clusters`).

    Call args:
      session_items: int `[batch, max_len]` item numbers, 0 = padding; or
        string `[batch, max_len]` raw item ids, "" = padding (the
        preprocessor needs its `vocabulary_file`).
      k: optional number of recommendations (python int or int32 scalar
        tensor), clipped to `[1, num_items]`; default the constructor's.
      candidates_t: optional precomputed `[hidden, N]` transposed candidate
        embeddings (see `TAGNN.call`).
      with_scores: also return `scores` (`[batch, N]`, the one output that
        grows with the catalogue); False for top-k-only responses.

    Returns:
      scores float32 `[batch, N]` (columns as in `tagnn_tf.item_ids`),
      top_k_ids int64 `[batch, k]` (item numbers, best first; for a string
      request the raw ids, "" where there is no recommendation), top_k_scores
      float32 `[batch, k]`, used_item_count and invalid_item_count int32
      `[batch]` (for a string request `unknown_item_count`: ids not in the
      vocabulary).
    """

    def __init__(self, model, preprocessor: SessionPreprocessor, k: int = DEFAULT_K, scoring_mode: str = "serve",
                 max_batch_sessions: int = DEFAULT_MAX_BATCH_SESSIONS, rerank_candidates: int = 0,
                 rerank_probe: int = 16, **kwargs):
        super().__init__(**kwargs)
        if model.padding != "masked":
            raise InputError("Only models with padding='masked' can be served: padding='official' is a training "
                             "diagnostic whose scores depend on a split-wide padded length. Received: "
                             f"padding={model.padding!r}")
        if preprocessor.num_items != model.num_items:
            raise InputError(f"The preprocessor's num_items must be the model's ({model.num_items}). Received: "
                             f"num_items={preprocessor.num_items}")
        check_positive("max_session_length", preprocessor.max_session_length)
        if not 1 <= k <= model.num_items:
            raise InputError(f"`k` must be in [1, num_items={model.num_items}]. Received: k={k}")
        check_choice("scoring_mode", scoring_mode, SCORING_MODES)
        check_positive("max_batch_sessions", max_batch_sessions, allow_zero=True)
        if rerank_candidates and not (hasattr(model, "rerank") and scoring_mode == "serve"
                                      and k <= rerank_candidates <= model.num_items):
            raise InputError("`rerank_candidates` needs a TAGNN-family model, scoring_mode='serve' and "
                             f"k <= rerank_candidates <= num_items={model.num_items}. Received: "
                             f"rerank_candidates={rerank_candidates}, model={type(model).__name__}, "
                             f"scoring_mode={scoring_mode!r}, k={k}")
        self.model = model
        self.preprocessor = preprocessor
        self.k = k
        self.scoring_mode = scoring_mode
        self.max_batch_sessions = max_batch_sessions
        self.rerank_candidates = rerank_candidates
        check_positive("rerank_probe", rerank_probe)
        self.rerank_probe = rerank_probe

    def call(self, session_items, k=None, candidates_t=None, with_scores=True, clusters=None):
        if self.rerank_candidates and with_scores:
            raise InputError("A reranking recommender scores K candidates per session, not every item: "
                             "call it with with_scores=False")
        k = tf.clip_by_value(tf.cast(self.k if k is None else k, tf.int32), 1,
                             self.rerank_candidates or self.model.num_items)

        def recommend(rows):
            return self._recommend(rows, k, candidates_t, with_scores, clusters)

        if not self.max_batch_sessions:
            return recommend(session_items)
        out = self._in_slices(session_items, recommend)
        # The loop loses the static shapes; signatures (and clients reading them) keep them.
        for name, value in out.items():
            value.set_shape([None, self.model.num_items] if name == "scores" else
                            [None, None] if name.startswith("top_k") else [None])
        return out

    def _recommend(self, session_items, k, candidates_t, with_scores, clusters=None):
        """All outputs for one slice of sessions."""
        features = self.preprocessor(session_items)
        empty = tf.expand_dims(features["empty_session"], 1)
        if self.rerank_candidates:
            index = None if clusters is None else (*clusters, self.rerank_probe)
            columns, scores = self.model.rerank(features, self.rerank_candidates, candidates_t, index)
            top_scores, best = tf.math.top_k(tf.where(empty, tf.zeros_like(scores), tf.cast(scores, tf.float32)), k)
            top_columns = tf.gather(columns, best, batch_dims=1)
        else:
            scores = tf.cast(self.model(features, candidates_t=candidates_t, scoring_mode=self.scoring_mode),
                             tf.float32)
            scores = tf.where(empty, tf.zeros_like(scores), scores)
            top_scores, top_columns = tf.math.top_k(scores, k)
        top_ids = tf.cast(tf.where(empty, tf.zeros_like(top_columns), item_ids.column_to_id(top_columns)), tf.int64)
        raw = session_items.dtype == tf.string
        out = {"top_k_ids": self.preprocessor.item_names(top_ids) if raw else top_ids, "top_k_scores": top_scores,
               "used_item_count": features["used_item_count"],
               "unknown_item_count" if raw else "invalid_item_count": features["invalid_item_count"]}
        if with_scores:
            out["scores"] = scores
        return out

    def _in_slices(self, session_items, recommend):
        """`recommend` on consecutive slices of `max_batch_sessions` rows, one at a time.

        The first slice is computed in the signature's own graph and the
        others in a while loop that does not run for a request of one slice:
        small requests take the path of an unsliced export (a conditional
        measurably slowed them in TensorFlow and kept TFLite from delegating
        the whole graph to XNNPack). `parallel_iterations=1`: only one slice's
        temporaries are alive. The slices' outputs are collected in
        TensorArrays; TFLite has no builtin for those, so the `tflite` mode
        grows each output by concatenation (WHILE and CONCATENATION are
        builtins).
        """
        size = self.max_batch_sessions
        slices = (tf.shape(session_items)[0] + size - 1) // size
        first = recommend(session_items[:size])
        names = sorted(first)

        def slice_outputs(i):
            out = recommend(session_items[i * size:(i + 1) * size])
            return [out[name] for name in names]

        def loop(body, first):
            return tf.while_loop(lambda i, *_: i < slices, body, (tf.constant(1), *first), parallel_iterations=1,
                                 shape_invariants=(tf.TensorShape([]), *(_invariant(v) for v in first)))[1:]

        first = [first[name] for name in names]
        if self.scoring_mode == "tflite":
            parts = loop(lambda i, *parts: (i + 1,) + tuple(tf.concat([p, v], 0)
                                                           for p, v in zip(parts, slice_outputs(i))), first)
            return dict(zip(names, parts))
        arrays = [tf.TensorArray(v.dtype, size=tf.maximum(slices, 1), infer_shape=False).write(0, v) for v in first]
        arrays = loop(lambda i, *arrays: (i + 1,) + tuple(a.write(i, v) for a, v in zip(arrays, slice_outputs(i))),
                      arrays)
        return {name: array.concat() for name, array in zip(names, arrays)}

    def get_config(self):
        config = super().get_config()
        config.update({"model": keras.saving.serialize_keras_object(self.model),
                       "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
                       "k": self.k, "scoring_mode": self.scoring_mode,
                       "max_batch_sessions": self.max_batch_sessions, "rerank_candidates": self.rerank_candidates,
                       "rerank_probe": self.rerank_probe})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("model", "preprocessor"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _invariant(value):
    """While-loop shape invariant: any number of rows (TensorArrays: their own)."""
    if isinstance(value, tf.TensorArray):
        return tf.TensorShape(None)
    return tf.TensorShape([None] + [None] * (len(value.shape) - 1))
