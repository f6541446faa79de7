"""Target-aware attention scored against the whole catalogue (paper eq. 6-7, 10-11)."""

from __future__ import annotations

import keras
from keras import ops

from tagnn_tf.config import check_positive
from tagnn_tf.layers.initializers import uniform_init


@keras.saving.register_keras_serializable(package="tagnn_tf")
class TargetAttention(keras.layers.Layer):
    """Target term of every candidate's score, without a `[batch, N, d]` tensor.

    For candidate t with embedding `v_t`, over the session's nodes x_u with
    click multiplicities c_u (equal to attention over clicks):
      eq. 6: `β_{u,t} = softmax_u(v_t^T W x_u + log c_u)` (padding gets weight 0);
      eq. 7: `s_target^t = Σ_u β_{u,t} x_u`.
    The score needs only `v_t^T V s_target^t = Σ_u β_{u,t} (v_t^T V x_u)`, with
    `V` the target block of eq. 10's `W3` (`value_projection=True`, paper) or the
    identity (official code: `s_t = ... + s_target^t`). Keys `W x_u` and values
    `V x_u` are stacked and multiplied with the candidates in one
    `[batch, 2U, d] x [d, N]` product.

    Args:
      hidden_size: d.
      value_projection: learn `V` (paper eq. 10) or use the identity.
      seed: optional initializer seed.

    Call args:
      nodes: `[batch, U, hidden]` node vectors after the GNN.
      node_counts: `[batch, U]` clicks per node, 0 for padding.
      candidates: `[N, hidden]` candidate item embeddings.

    Returns:
      `[batch, N]` target term of the score of each candidate.
    """

    def __init__(self, hidden_size: int, value_projection: bool = False, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_positive("hidden_size", hidden_size)
        self.hidden_size = hidden_size
        self.value_projection = bool(value_projection)
        self.seed = seed

    def build(self, nodes_shape, node_counts_shape=None, candidates_shape=None):
        d = self.hidden_size
        init = uniform_init(d, self.seed)
        # Stored as [in, out] so that x @ kernel = W x.
        self.key_kernel = self.add_weight(name="key_kernel", shape=(d, d), initializer=init)
        if self.value_projection:
            self.value_kernel = self.add_weight(name="value_kernel", shape=(d, d), initializer=init)

    def call(self, nodes, node_counts, candidates):
        batch, width = ops.shape(nodes)[0], ops.shape(nodes)[1]
        # Only real nodes take part: padding is excluded, so it has exactly
        # zero weight and costs nothing. rows: session of each real node.
        rows, cols = ops.nonzero(ops.greater(node_counts, 0))
        flat_index = ops.cast(rows, "int32") * ops.cast(width, "int32") + ops.cast(cols, "int32")
        real = ops.take(ops.reshape(nodes, (-1, self.hidden_size)), flat_index, axis=0)  # [T, d]
        log_counts = ops.log(ops.take(ops.reshape(node_counts, (-1,)), flat_index, axis=0))  # [T]
        keys = ops.matmul(real, self.key_kernel)
        values = ops.matmul(real, self.value_kernel) if self.value_projection else real
        num_real = ops.shape(real)[0]
        # One [2T, d] x [d, N] product for keys and values.
        products = ops.matmul(ops.concatenate([keys, values], axis=0), ops.transpose(candidates))
        logits = products[:num_real] + ops.expand_dims(log_counts, -1)  # [T, N]
        value_scores = products[num_real:]  # [T, N]
        # Segment softmax over each session's nodes (eq. 6), weighted sum (eq. 7).
        shift = ops.stop_gradient(ops.segment_max(logits, rows, num_segments=batch))
        exp = ops.exp(logits - ops.take(shift, rows, axis=0))
        numerator = ops.segment_sum(exp * value_scores, rows, num_segments=batch)
        denominator = ops.segment_sum(exp, rows, num_segments=batch)
        return ops.divide_no_nan(numerator, denominator)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_size": self.hidden_size, "value_projection": self.value_projection,
                       "seed": self.seed})
        return config
