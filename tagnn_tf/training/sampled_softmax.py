"""Sampled softmax over a batch's labels plus shared negatives (`train_candidates="sampled"`).

Each training batch of b examples scores C = b + K candidates: the b labels
(each example's positive, and the other examples' negatives) and K negatives
drawn once for the whole batch. The model's target attention then runs over
`[T, C]`, not `[T, N]`, so a step's cost no longer grows with the catalogue.
Two corrections keep the softmax close to the full one:

- logQ (Yi et al., RecSys 2019; Bengio & Senecal 2008): each candidate's
  logit is reduced by the log of its expected share of the candidate set,
  `q_j = (b p_j + K s_j) / (b + K)`, with `p_j` the item's share of the
  training labels (how often it enters as a batch label) and `s_j` the
  negative sampler's probability. keras-rs' `SamplingProbabilityCorrection`
  does the subtraction.
- accidental hits: a candidate with the row's own label id in another column
  (a repeated label, or a negative that drew it) gets logit -1e9.

With the learned repeat mechanism (`repeat_explore_loss`) the explore part
of the mixture is this sampled softmax and the repeat part is exact. keras-rs'
  `RemoveAccidentalHits` (0.4.0) is not used: it adds ~1e-40 to those logits,
  a no-op in float32 (keras-rs pull request #206);
  `tests/training/test_sampled_softmax.py` checks that and fails once a
  release fixes it.
"""

from __future__ import annotations

from typing import Optional

import keras_rs
import numpy as np
import tensorflow as tf
from keras import ops

from tagnn_tf import item_ids
from tagnn_tf.arguments import NEGATIVE_SAMPLING, check_choice, check_positive
from tagnn_tf.layers.repeat_scores import PADDING_LOGIT, node_values_at

ACCIDENTAL_HIT_LOGIT = -1e9


class CandidateSampler:
    """Draws the shared negatives of a batch and knows every item's expected candidate share.

    Args:
      label_counts: `[N]` how often each item (score column) is a training label.
      num_negatives: K, negatives per batch.
      sampling: `uniform`, or `popularity` (in proportion to `1 + label_counts`).
      batch_size: b, labels per batch (for the expected shares).
    """

    def __init__(self, label_counts: np.ndarray, num_negatives: int, sampling: str, batch_size: int):
        check_positive("num_negatives", num_negatives)
        check_choice("negative_sampling", sampling, NEGATIVE_SAMPLING)
        check_positive("batch_size", batch_size)
        counts = np.asarray(label_counts, np.float64)
        self.num_items = int(counts.shape[0])
        self.num_negatives = num_negatives
        self.sampling = sampling
        label_share = counts / max(counts.sum(), 1.0)
        if sampling == "uniform":
            negative_share = np.full(self.num_items, 1.0 / self.num_items)
            self._cdf = None
        else:
            negative_share = (counts + 1.0) / (counts.sum() + self.num_items)
            self._cdf = tf.constant(np.cumsum(negative_share), tf.float64)
        share = (batch_size * label_share + num_negatives * negative_share) / (batch_size + num_negatives)
        self.expected_share = tf.constant(share, tf.float32)  # [N]

    def negatives(self, seed) -> tf.Tensor:
        """int32 `[K]` score columns, drawn with the stateless `seed` (int32 `[2]`)."""
        if self._cdf is None:
            return tf.random.stateless_uniform([self.num_negatives], seed, 0, self.num_items, tf.int32)
        u = tf.random.stateless_uniform([self.num_negatives], seed, dtype=tf.float64) * self._cdf[-1]
        return tf.minimum(tf.cast(tf.searchsorted(self._cdf, u, side="right"), tf.int32), self.num_items - 1)


def label_counts(labels: np.ndarray, num_items: int) -> np.ndarray:
    """`[N]` count of each item (score column) among `labels` (item ids)."""
    return np.bincount(item_ids.id_to_column(np.asarray(labels, np.int64)), minlength=num_items)[:num_items]


def remove_accidental_hits(logits, label_columns, candidates):
    """`logits` `[b, C]` with `ACCIDENTAL_HIT_LOGIT` where candidate j is row i's
    label but j is not column i (row i's positive).

    Args:
      logits: `[b, C]`; row i's positive is column i.
      label_columns: int `[b]` each row's label (score column).
      candidates: int `[C]` the score column of each candidate.
    """
    b = ops.shape(label_columns)[0]
    same = ops.equal(ops.expand_dims(label_columns, 1), ops.expand_dims(candidates, 0))
    own = ops.equal(ops.expand_dims(ops.arange(b), 1), ops.expand_dims(ops.arange(ops.shape(candidates)[0]), 0))
    return ops.where(ops.logical_and(same, ops.logical_not(own)), ACCIDENTAL_HIT_LOGIT, logits)


_CORRECTION = keras_rs.layers.SamplingProbabilityCorrection(epsilon=1e-30)


def _shared_candidates(model, labels, sampler: CandidateSampler, seed):
    """(label columns int32 `[b]`, candidate columns int32 `[C]`, their vectors transposed `[w, C]`)."""
    columns = tf.cast(item_ids.id_to_column(labels), tf.int32)
    candidates = tf.concat([columns, sampler.negatives(seed)], axis=0)  # [C]
    return columns, candidates, ops.transpose(model.candidate_vectors(item_ids.column_to_id(candidates)))


def _corrected(logits, columns, candidates, sampler: CandidateSampler):
    share = ops.broadcast_to(ops.take(sampler.expected_share, candidates), ops.shape(logits))
    return remove_accidental_hits(_CORRECTION(logits, share), columns, candidates)


def sampled_logits(model, features, labels, sampler: CandidateSampler, seed, training=True):
    """`[b, b + K]` corrected logits of the batch's labels and K shared negatives; row i's positive is column i.

    Args:
      model: a neural model (`call(inputs, candidates_t=...)` and `candidate_vectors(ids)`).
      features: the model's input batch.
      labels: int `[b]` item ids.
      sampler: the `CandidateSampler`.
      seed: int32 `[2]` stateless seed of this step's negatives.
    """
    columns, candidates, candidates_t = _shared_candidates(model, labels, sampler, seed)
    logits = model(features, candidates_t=candidates_t, training=training)
    return _corrected(logits, columns, candidates, sampler)


def repeat_explore_loss(model, features, labels, sampler: Optional[CandidateSampler], seed, training=True):
    """`[b]` training loss of the repeat-explore mixture (`repeat_mechanism="repeat_explore"`).

    Each part of `P(i) = sigmoid(g) P_repeat(i) + sigmoid(-g) P_explore(i)` (`tagnn_tf.layers.repeat_scores`)
    learns from its own loss, summed:

    - the explore scores: the plain model's cross-entropy, over the whole catalogue (`sampler` None) or
      the sampled softmax's (`sampled_logits`' candidates and corrections);
    - the gate: binary cross-entropy of `sigmoid(g)` against "the label is one of the session's items",
      so `sigmoid(g)` estimates that probability;
    - the repeat distribution: cross-entropy of the softmax over the session's nodes, on the labels that
      are session items (0 for the others).

    The repeat layer reads the node and session vectors without passing gradients back
    (`RepeatAware.repeat_scores`), so the explore part trains exactly as the plain model. Trained on
    the mixture's likelihood instead, the gate is calibrated against the explore part's probability of
    the label, which the sampled softmax over-estimates: measured on Diginetica (sampled training), the
    gate closed to sigmoid(g) ~ 1e-5 and the mechanism did nothing (docs/repeat_heavy_logs.md).

    Args: as `sampled_logits`, `sampler` None for the full softmax; `model` has `explore_and_repeat`.
    """
    label_columns = tf.cast(item_ids.id_to_column(labels), tf.int32)
    if sampler is None:
        explore, (gate, node_logits) = model.explore_and_repeat(features, model.candidate_table_t(), training=training)
        positives = label_columns
    else:
        columns, candidates, candidates_t = _shared_candidates(model, labels, sampler, seed)
        shared, (gate, node_logits) = model.explore_and_repeat(features, candidates_t, training=training)
        explore = _corrected(shared, columns, candidates, sampler)
        positives = ops.arange(ops.shape(labels)[0], dtype="int32")
    explore_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(positives, explore)
    label_at = ops.expand_dims(label_columns, 1)
    repeats = node_values_at(label_at, features["items"], ops.ones_like(node_logits), 0.0)[:, 0]  # [b] 1 / 0
    gate_loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=repeats, logits=gate)
    log_repeat = node_values_at(label_at, features["items"], ops.log_softmax(node_logits, axis=1), PADDING_LOGIT)[:, 0]
    return explore_loss + gate_loss - ops.where(repeats > 0, log_repeat, 0.0)
