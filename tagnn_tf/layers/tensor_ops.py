"""Small tensor helpers shared by the TAGNN layers (keras.ops only)."""

import keras


def masked_log_weights(node_counts, dtype="float32"):
    """`log(count)` for real nodes, a large negative number for padding.

    Adding it to attention logits makes a softmax over unique nodes equal the
    softmax over clicks, and gives padding exactly zero weight (exp underflows
    to 0 in float32) without producing NaN.
    """
    ops = keras.ops
    mask = ops.greater(node_counts, 0)
    return ops.where(mask, ops.log(ops.maximum(node_counts, 1.0)), ops.cast(-1e9, dtype))


def matmul_last(x, kernel):
    """`x @ kernel` for `x` `[..., k]` and a 2-D `kernel` `[k, m]` as one 2-D GEMM.

    A 3-D x 2-D `matmul` becomes a broadcasting batched matmul in TF (one
    small GEMM per batch row); flattening the leading dimensions is much faster.
    """
    ops = keras.ops
    lead = ops.shape(x)[:-1]
    flat = ops.reshape(x, (-1, ops.shape(x)[-1]))
    out = ops.matmul(flat, kernel)
    return ops.reshape(out, tuple(lead) + (ops.shape(kernel)[-1],))


def gather_rows(table, indices):
    """`table[indices]` for a `[rows, d]` weight, read row by row.

    `keras.ops.take` first reads the whole variable as a tensor. Once sparse
    updates (`LazyAdam`'s scatters) have touched a TensorFlow resource
    variable, every such dense read copies all of it: 400 MB per lookup at
    a million items. A gather on the variable itself reads only the rows
    (and its gradient is the same `IndexedSlices`).
    """
    import tensorflow as tf

    variable = table.value if isinstance(table, keras.Variable) else table
    return tf.gather(variable, indices)


@keras.saving.register_keras_serializable(package="tagnn_tf")
class RowGatherEmbedding(keras.layers.Embedding):
    """`keras.layers.Embedding` whose lookup reads only the looked-up rows (`gather_rows`).

    Same weights, config and outputs; only the read differs (no copy of the
    whole table per lookup once `LazyAdam` has updated it sparsely).
    """

    def call(self, inputs):
        if inputs.dtype != "int32" and inputs.dtype != "int64":
            inputs = keras.ops.cast(inputs, "int32")
        return gather_rows(self.embeddings, inputs)


# Below this length a vector is not scaled up to unit length (a row at 0 stays near 0).
_MIN_NORM = 1e-6


def unit_vectors(x, scale=1.0):
    """`scale * x / ||x||` along the last axis: `[..., d]` vectors of length `scale` (`ModelConfig.item_norm_scale`)."""
    ops = keras.ops
    norm_sq = ops.sum(ops.square(x), axis=-1, keepdims=True)
    return x * (scale * ops.rsqrt(ops.maximum(norm_sq, _MIN_NORM * _MIN_NORM)))
