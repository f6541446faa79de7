"""Small tensor helpers shared by the TAGNN layers (keras.ops only)."""

import contextlib

import keras

_SERVING_TRACE = {"on": False, "stacked": True}


@contextlib.contextmanager
def serving_trace(stacked_scoring: bool = True):
    """Functions traced inside take the serving path.

    It uses the unsorted segment max (a TFLite builtin; the sorted one, faster
    for training, has no TFLite kernel) and, with `stacked_scoring`, one
    stacked `[B + 2T, d] x [d, N]` scoring GEMM: one pass over the candidate
    table, which dominates small requests in TensorFlow. TFLite copies every
    slice of the stacked product, so its trace uses `stacked_scoring=False`
    (three separate GEMMs, as in training). Every path computes the same
    scores.
    """
    before = dict(_SERVING_TRACE)
    _SERVING_TRACE.update(on=True, stacked=stacked_scoring)
    try:
        yield
    finally:
        _SERVING_TRACE.update(before)


def in_serving_trace() -> bool:
    return _SERVING_TRACE["on"]


def stacked_scoring() -> bool:
    """Whether the scores are one stacked GEMM (inside `serving_trace()` only)."""
    return _SERVING_TRACE["on"] and _SERVING_TRACE["stacked"]


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
