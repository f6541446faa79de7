"""HR@K and MRR@K over the full catalogue, from the target's rank.

The rank of the target is 1 + the number of items scoring strictly above it
(one comparison pass over `[batch, num_items]`), cheaper than a top-k or a
dense one-hot label tensor at 43k items.

Per-subset metrics: given which labels repeat an item already in the session
(`label_repeats`), the sums are also kept for the `repeat` and `new` labels,
and `finalize` reports `repeat/hr@20`, `new/hr@20`, ... (each over its own
labels) and `repeat_share` (% of the labels that are repeats).
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
import tensorflow as tf

from tagnn_tf import item_ids
from tagnn_tf.errors import InputError

CUTOFFS = (10, 20)
# The label subsets of the per-subset metrics: the label is in the session / is not.
SUBSETS = ("repeat", "new")


def label_repeats(items: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """bool `[batch]`: whether each label is one of its session's items.

    Args:
      items: int `[batch, U]` each session's items (0 = padding).
      labels: int `[batch]` item ids (>= 1).
    """
    return tf.reduce_any(tf.equal(tf.cast(items, tf.int64), tf.cast(tf.expand_dims(labels, 1), tf.int64)), axis=1)


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


def _sums(ranks, cutoffs, repeats, total, as_float):
    """The sums of `rank_sums` with the array functions of its backend (`total`: a sum; `as_float`: a cast)."""
    ranks_f = as_float(ranks)
    parts = {"": ranks_f * 0.0 + 1.0}
    if repeats is not None:
        repeat = as_float(repeats)
        parts.update({"repeat/": repeat, "new/": 1.0 - repeat})
    out = {}
    for prefix, weight in parts.items():
        out[prefix + "count"] = total(weight)
        for k in cutoffs:
            hit = as_float(ranks <= k) * weight
            out[f"{prefix}hr@{k}"] = total(hit)
            out[f"{prefix}mrr@{k}"] = total(hit / ranks_f)
    return out


def rank_sums(ranks: tf.Tensor, cutoffs: Sequence[int] = CUTOFFS, repeats=None) -> Dict[str, tf.Tensor]:
    """Sums over a batch: hits and reciprocal ranks within each cutoff, and the count.

    `repeats`: optional bool `[batch]` (`label_repeats`); the same sums are
    then also kept per subset, as `repeat/...` and `new/...`.
    """
    return _sums(ranks, cutoffs, repeats, tf.reduce_sum, lambda x: tf.cast(x, tf.float32))


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


def numpy_rank_sums(ranks: np.ndarray, cutoffs: Sequence[int] = CUTOFFS, repeats=None) -> Dict[str, float]:
    """`rank_sums` of NumPy ranks (`repeats`: optional bool `[n]`), in float64."""
    return _sums(np.asarray(ranks), cutoffs, repeats, lambda x: float(np.sum(x)),
                 lambda x: np.asarray(x, np.float64))


def finalize(sums: Dict[str, float]) -> Dict[str, float]:
    """Percentages from accumulated sums: `hr@K`, `mrr@K` over every label and, when the sums have
    subsets, `repeat_share` and each subset's metrics over its own labels (left out for an empty subset)."""
    n = float(sums["count"])
    if n <= 0:
        raise InputError("No examples were evaluated")
    out = {}
    for key, value in sorted(sums.items()):
        if key.endswith("count"):
            continue
        subset = key.split("/")[0] if "/" in key else ""
        count = float(sums[subset + "/count"]) if subset else n
        if count > 0:
            out[key] = round(100.0 * float(value) / count, 4)
    if "repeat/count" in sums:
        out["repeat_share"] = round(100.0 * float(sums["repeat/count"]) / n, 4)
    return out
