"""Target-aware attention scored against the whole catalogue (paper eq. 6-7, 10-11)."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from tagnn_tf.arguments import SCORING_MODES, check_choice, check_positive
from tagnn_tf.layers.initializers import uniform_init
from tagnn_tf.layers.tensor_ops import masked_log_weights, matmul_last


@keras.saving.register_keras_serializable(package="tagnn_tf")
class TargetAttention(keras.layers.Layer):
    """Target term of every candidate's score, without a `[batch, N, d]` tensor.

    For candidate t with embedding `v_t`, over the session's nodes x_u with
    click multiplicities c_u (equal to attention over clicks):
      eq. 6: `β_{u,t} = softmax_u(v_t^T W x_u + log c_u)` (padding gets weight 0);
      eq. 7: `s_target^t = Σ_u β_{u,t} x_u`.
    The score needs only `v_t^T V s_target^t = Σ_u β_{u,t} (v_t^T V x_u)`, with
    `V` the target block of eq. 10's `W3` (`value_projection=True`, paper) or the
    identity (official code: `s_t = ... + s_target^t`). Only the T real nodes
    of the batch take part (padding is dropped, not masked): keys `W x_u` and
    values `V x_u` `[T, d]` are each multiplied with the candidates `[d, N]`,
    and the softmax over each session's nodes is a segment softmax with a
    hand-written gradient (`segment_attention`). This is the paper's
    `[batch, session_len, N]` formulation with the padding removed.

    Args:
      hidden_size: d.
      value_projection: learn `V` (paper eq. 10) or use the identity.
      seed: optional initializer seed.

    Call args:
      nodes: `[batch, U, hidden]` node vectors after the GNN.
      node_counts: `[batch, U]` clicks per node, 0 for padding.
      candidates_t: `[hidden, N]` candidate item embeddings, transposed (the
        model transposes them once for this and its base scores).
      sink_counts: optional `[batch]` padded clicks that take part in the
        softmax with logit 0 and value 0 (the official code's padding).
      sorted_segments: per-session reductions with the sorted segment ops
        (fastest on CPU; training) or the unsorted ones (TFLite builtins;
        exports). Both are exact.

    Returns:
      `[batch, N]` target term of the score of each candidate.
    """

    def __init__(self, hidden_size: int, value_projection: bool = False, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_positive("hidden_size", hidden_size)
        self.hidden_size = hidden_size
        self.value_projection = bool(value_projection)
        self.seed = seed

    def build(self, nodes_shape, node_counts_shape=None, candidates_t_shape=None):
        d = self.hidden_size
        init = uniform_init(d, self.seed)
        # Stored as [in, out] so that x @ kernel = W x.
        self.key_kernel = self.add_weight(name="key_kernel", shape=(d, d), initializer=init)
        if self.value_projection:
            self.value_kernel = self.add_weight(name="value_kernel", shape=(d, d), initializer=init)

    def call(self, nodes, node_counts, candidates_t, sink_counts=None, sorted_segments=True):
        rows, keys, values, log_counts = self.project(nodes, node_counts)
        # Two [T, d] x [d, N] products (separate GEMMs: slicing one stacked
        # [2T, N] product costs two extra copies of it).
        logits = ops.matmul(keys, candidates_t)  # [T, N]
        value_scores = ops.matmul(values, candidates_t)  # [T, N]
        return self.attend(logits, value_scores, rows, log_counts, ops.shape(nodes)[0], sink_counts,
                           sorted_segments)

    def scores(self, nodes, node_counts, session, candidates_t, scoring_mode="train", sink_counts=None):
        """`[batch, N]` whole scores of eq. 10-11: `session . v_t` plus the target term (eq. 6-7), computed
        as `scoring_mode` (`tagnn_tf.arguments.SCORING_MODES`) asks; every mode gives the same numbers.

        - `train`: separate GEMMs and the sorted segment ops (fastest on CPU);
        - `serve`: one stacked `[B + 2T, d] x [d, N]` GEMM for the base scores, keys and values (a single
          pass over the candidate table, which dominates small requests) and the unsorted segment max
          (a TFLite builtin); with `sink_counts` (the official padding) it scores as `tflite`;
        - `tflite`: separate GEMMs (TFLite copies every slice of a stacked product), unsorted max.

        Args:
          nodes, node_counts, candidates_t, sink_counts: as `call`.
          session: `[batch, hidden]` the session part of the score (eq. 10 without the target term).
        """
        check_choice("scoring_mode", scoring_mode, SCORING_MODES)
        if scoring_mode != "serve" or sink_counts is not None:
            return ops.matmul(session, candidates_t) + self(
                nodes, node_counts, candidates_t, sink_counts, sorted_segments=(scoring_mode == "train"))
        rows, keys, values, log_counts = self.project(nodes, node_counts)
        batch, real = ops.shape(session)[0], ops.shape(keys)[0]
        stacked = ops.matmul(ops.concatenate([session, keys, values], axis=0), candidates_t)
        return stacked[:batch] + self.attend(stacked[batch:batch + real], stacked[batch + real:], rows, log_counts,
                                             batch, sorted_segments=False)

    def per_session(self, nodes, node_counts, candidates):
        """`[batch, K]` target term for candidates that differ per session (reranking).

        The same eq. 6-7 as `call`, on the padded node axis: each session's
        keys and values `[U, d]` against its own candidates `[K, d]` (batched
        GEMMs, `[batch, U, K]` temporaries), padding masked out of the softmax.

        Args:
          nodes: `[batch, U, hidden]` node vectors after the GNN.
          node_counts: `[batch, U]` clicks per node, 0 for padding.
          candidates: `[batch, K, hidden]` each session's candidate embeddings.
        """
        keys = matmul_last(nodes, self.key_kernel)
        values = matmul_last(nodes, self.value_kernel) if self.value_projection else nodes
        logits = ops.einsum("bud,bkd->buk", keys, candidates) + ops.expand_dims(
            masked_log_weights(node_counts, nodes.dtype), -1)
        weights = ops.softmax(logits, axis=1)
        return ops.sum(weights * ops.einsum("bud,bkd->buk", values, candidates), axis=1)

    def project(self, nodes, node_counts):
        """The batch's T real nodes: (session of each `[T]`, keys `[T, d]`, values `[T, d]`, log counts `[T]`)."""
        width = ops.shape(nodes)[1]
        # Only real nodes take part: padding is excluded, so it has exactly
        # zero weight and costs nothing. rows: session of each real node.
        # tf.where + reshape, not ops.nonzero: its unstack has no TFLite builtin.
        flat_index = tf.cast(tf.reshape(tf.where(tf.reshape(node_counts > 0, [-1])), [-1]), tf.int32)
        rows = ops.floor_divide(flat_index, ops.cast(width, "int32"))
        real = ops.take(ops.reshape(nodes, (-1, self.hidden_size)), flat_index, axis=0)  # [T, d]
        log_counts = ops.log(ops.take(ops.reshape(node_counts, (-1,)), flat_index, axis=0))  # [T]
        keys = ops.matmul(real, self.key_kernel)
        values = ops.matmul(real, self.value_kernel) if self.value_projection else real
        return rows, keys, values, log_counts

    def attend(self, logits, value_scores, rows, log_counts, batch, sink_counts=None, sorted_segments=True):
        """`[batch, N]` target term from the keys' and values' products with the candidates `[T, N]`.

        `sink_counts` `[batch]`: padded clicks of each session that take part
        in the softmax with logit 0 (`ModelConfig.padding="official"`).
        `sorted_segments`: as in `call`.
        """
        sinks = () if sink_counts is None else (sink_counts,)
        attention = segment_attention if sorted_segments else segment_attention_unsorted_max
        return attention(logits + ops.expand_dims(log_counts, -1), value_scores, rows, batch, *sinks)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_size": self.hidden_size, "value_projection": self.value_projection,
                       "seed": self.seed})
        return config


def _segment_reduce(reduce_fn, data, segment_ids, num_segments):
    """Sorted segment reduction padded to `num_segments` rows (trailing empty
    sessions get zeros); sorted kernels are ~3x faster than unsorted on CPU."""
    out = reduce_fn(data, segment_ids, sorted=True)
    return ops.pad(out, [[0, num_segments - ops.shape(out)[0]], [0, 0]])


def _unsorted_segment_max(data, segment_ids, num_segments):
    """The unsorted segment max: a TFLite builtin (the sorted one has no TFLite kernel)."""
    return ops.segment_max(data, segment_ids, num_segments=num_segments, sorted=False)


def _sorted_segment_max(data, segment_ids, num_segments):
    return _segment_reduce(ops.segment_max, data, segment_ids, num_segments)


def _make_segment_attention(segment_max):
    """`segment_attention` with the given segment max (sorted or unsorted; both exact)."""

    @ops.custom_gradient
    def attention(logits, values, segment_ids, num_segments, *sink_counts):
        return _segment_attention(segment_max, logits, values, segment_ids, num_segments, *sink_counts)

    return attention


def _segment_attention(segment_max, logits, values, segment_ids, num_segments, *sink_counts):
    """`out[b, t] = Σ_{u in b} softmax_u(logits[u, t]) values[u, t]` (eq. 6-7 scored).

    Args:
      segment_max: `(data, segment_ids, num_segments) -> [B, N]` maxima.
      logits: `[T, N]` attention logits of each real node for each candidate.
      values: `[T, N]` the candidate's score through each node.
      segment_ids: int32 `[T]` session of each node, sorted.
      num_segments: number of sessions B.
      *sink_counts: optionally one `[B]` tensor: session b's softmax also has
        `sink_counts[b]` padded positions of logit 0 and value 0 (the official
        code's padding, `ModelConfig.padding="official"`). They only enlarge the
        normaliser, so the gradient formulas below are unchanged.

    Returns:
      `[B, N]`.

    Written to touch `[T, N]` tensors as few times as possible: the softmax
    normaliser divides the `[B, N]` sums, not the `[T, N]` weights, and the
    gradient is written out: with `w` the softmax weights and `g` the upstream
    gradient, `d values = w g` and `d logits = w g (values - out)`.
    """
    shift = segment_max(logits, segment_ids, num_segments)
    for sink in sink_counts:
        shift = ops.where(ops.expand_dims(ops.greater(sink, 0), -1), ops.maximum(shift, 0.0), shift)
    exp = ops.exp(logits - ops.take(shift, segment_ids, axis=0))
    total = _segment_reduce(ops.segment_sum, exp, segment_ids, num_segments)
    for sink in sink_counts:
        total = total + ops.expand_dims(sink, -1) * ops.exp(-shift)
    total = ops.where(ops.greater(total, 0), total, ops.ones_like(total))  # sessions without nodes
    out = _segment_reduce(ops.segment_sum, exp * values, segment_ids, num_segments) / total

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        d_values = exp * ops.take(upstream / total, segment_ids, axis=0)
        d_logits = d_values * (values - ops.take(out, segment_ids, axis=0))
        return (d_logits, d_values, None, None) + (None,) * len(sink_counts)

    return out, grad


# Training (sorted segment max, fastest on CPU) and exports (unsorted, a TFLite builtin).
segment_attention = _make_segment_attention(_sorted_segment_max)
segment_attention_unsorted_max = _make_segment_attention(_unsorted_segment_max)
