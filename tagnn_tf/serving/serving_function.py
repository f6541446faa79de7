"""The serving computation: raw item-id sessions in, catalogue scores and top-k out.

The exported signatures call `serve`, which cleans the request, builds the
session graphs with `session_graph.densify` (the same function as the training
input pipeline) and runs the model. Request rules, applied per row:
  * `0` is padding wherever it appears (rows are normally right-padded);
  * ids outside `[1, num_items]` (negative or too large) are dropped and
    counted in `invalid_item_count`; they never fail the request;
  * only the most recent `max_session_length` valid clicks are kept;
  * a row left with no valid click gets `scores` all 0, `top_k_ids` all 0 (no
    recommendation) and `top_k_scores` all 0; `used_item_count` is 0 there.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tagnn_tf.data.session_graph import densify

DEFAULT_K = 20
INPUT_NAME = "session_items"
OUTPUT_NAMES = ("scores", "top_k_ids", "top_k_scores", "used_item_count", "invalid_item_count")


def pad_sessions(sessions, width=None) -> np.ndarray:
    """int64 `[len(sessions), width]` request, right-padded with 0 (width: the longest session)."""
    width = max((len(s) for s in sessions), default=0) if width is None else width
    out = np.zeros((len(sessions), width), np.int64)
    for i, s in enumerate(sessions):
        out[i, :len(s)] = s
    return out


def clean_sessions(session_items: tf.Tensor, num_items: int, max_session_length: int):
    """Request rows -> (ragged sessions for `densify`, used count, invalid count, empty rows).

    Args:
      session_items: int `[batch, max_len]`, 0 = padding.
      num_items: catalogue size N; valid ids are 1..N.
      max_session_length: keep at most this many most recent valid clicks.

    Returns:
      sessions: int64 RaggedTensor `[batch, (clicks)]`, every row non-empty
        (an empty row holds the placeholder item 1; its outputs are masked).
      used: int32 `[batch]` clicks kept.
      invalid: int32 `[batch]` ids outside `[1, N]` that were dropped.
      empty: bool `[batch]` rows without a valid click.
    """
    ids = tf.cast(session_items, tf.int64)
    valid = tf.logical_and(ids >= 1, ids <= num_items)
    invalid = tf.reduce_sum(tf.cast(tf.logical_and(ids != 0, tf.logical_not(valid)), tf.int32), axis=1)
    # Valid clicks at or after each position: keep the last `max_session_length`.
    from_end = tf.cumsum(tf.cast(valid, tf.int32), axis=1, reverse=True)
    keep = tf.logical_and(valid, from_end <= max_session_length)
    used = tf.reduce_sum(tf.cast(keep, tf.int32), axis=1)
    empty = tf.equal(used, 0)
    batch = tf.shape(ids)[0]
    ids = tf.concat([ids, tf.ones([batch, 1], tf.int64)], axis=1)
    keep = tf.concat([keep, tf.expand_dims(empty, 1)], axis=1)
    return tf.ragged.boolean_mask(ids, keep), used, invalid, empty


def serve(model, session_items: tf.Tensor, k, max_session_length: int, candidates_t=None) -> dict:
    """All outputs of the serving signatures.

    Args:
      model: a built `TAGNN`.
      session_items: int `[batch, max_len]` item ids, 0 = padding.
      k: number of recommendations (python int or int32 scalar tensor),
        clipped to `[1, num_items]`.
      max_session_length: see `clean_sessions`.
      candidates_t: optional precomputed `[hidden, N]` transposed item
        embeddings (see `TAGNN.call`).

    Returns:
      scores float32 `[batch, N]` (column i = item id i + 1), top_k_ids int64
      `[batch, k]` (item ids, best first), top_k_scores float32 `[batch, k]`,
      used_item_count and invalid_item_count int32 `[batch]`.
    """
    if model.model_config.padding != "masked":
        raise ValueError("Only models with padding='masked' can be served: padding='official' is a training "
                         f"diagnostic whose scores depend on a split-wide padded length. Received: "
                         f"padding={model.model_config.padding!r}")
    num_items = model.model_config.num_items
    sessions, used, invalid, empty = clean_sessions(session_items, num_items, max_session_length)
    scores = tf.cast(model(densify(sessions), candidates_t=candidates_t), tf.float32)
    scores = tf.where(tf.expand_dims(empty, 1), tf.zeros_like(scores), scores)
    k = tf.clip_by_value(tf.cast(k, tf.int32), 1, num_items)
    top_scores, top_index = tf.math.top_k(scores, k)
    top_ids = tf.where(tf.expand_dims(empty, 1), tf.zeros_like(top_index), top_index + 1)
    return {"scores": scores, "top_k_ids": tf.cast(top_ids, tf.int64), "top_k_scores": top_scores,
            "used_item_count": used, "invalid_item_count": invalid}
