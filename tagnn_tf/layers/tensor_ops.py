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
