"""HR@K and MRR@K over the full catalogue, from the target's rank.

The rank of the target is 1 + the number of items scoring strictly above it
(one comparison pass over `[batch, num_items]`), cheaper than a top-k or a
dense one-hot label tensor at 43k items.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
import tensorflow as tf

from tagnn_tf import item_ids
from tagnn_tf.errors import InputError

CUTOFFS = (10, 20)


def target_ranks(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """1-based rank of each label among the logits.

    Args:
      logits: `[batch, num_items]`, columns as in `tagnn_tf.item_ids`.
      labels: `[batch]` item ids in 1..num_items.

    Returns:
      int32 `[batch]`.
    """
    logits = tf.cast(logits, tf.float32)
    target = tf.gather(logits, item_ids.id_to_column(tf.cast(labels, tf.int32)), axis=1, batch_dims=1)
    above = tf.reduce_sum(tf.cast(logits > tf.expand_dims(target, 1), tf.int32), axis=1)
    return above + 1


def rank_sums(ranks: tf.Tensor, cutoffs: Sequence[int] = CUTOFFS) -> Dict[str, tf.Tensor]:
    """Sums over a batch: hits and reciprocal ranks within each cutoff, and the count."""
    ranks_f = tf.cast(ranks, tf.float32)
    out = {"count": tf.cast(tf.size(ranks), tf.float32)}
    for k in cutoffs:
        hit = tf.cast(ranks <= k, tf.float32)
        out[f"hr@{k}"] = tf.reduce_sum(hit)
        out[f"mrr@{k}"] = tf.reduce_sum(hit / ranks_f)
    return out


def numpy_target_ranks(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """1-based ranks from NumPy scores, ties counted against the target.

    `1 + #(other items scoring >= the target)`. The non-neural baselines score
    most items exactly 0 (and often tie among the rest), where `target_ranks`'
    strict count would rank an unscored target above every other unscored
    item; for continuous scores (the neural models) the two agree.

    Args:
      scores: `[batch, num_items]`, columns as in `tagnn_tf.item_ids`.
      labels: `[batch]` item ids.
    """
    target = np.take_along_axis(scores, item_ids.id_to_column(np.asarray(labels, np.int64))[:, None], axis=1)
    return (scores >= target).sum(axis=1).astype(np.int32)


def numpy_rank_sums(ranks: np.ndarray, cutoffs: Sequence[int] = CUTOFFS) -> Dict[str, float]:
    """`rank_sums` of NumPy ranks."""
    ranks = np.asarray(ranks, np.float64)
    out = {"count": float(ranks.size)}
    for k in cutoffs:
        hit = ranks <= k
        out[f"hr@{k}"] = float(hit.sum())
        out[f"mrr@{k}"] = float((hit / ranks).sum())
    return out


def finalize(sums: Dict[str, float]) -> Dict[str, float]:
    """Percentages from accumulated sums (`hr@K`, `mrr@K`)."""
    n = float(sums["count"])
    if n <= 0:
        raise InputError("No examples were evaluated")
    return {k: round(100.0 * float(v) / n, 4) for k, v in sorted(sums.items()) if k != "count"}
