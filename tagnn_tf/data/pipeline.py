"""tf.data input pipelines: shuffled, length-bucketed, densified in graph.

Sessions are gathered as ragged rows and densified per batch by
`session_graph.densify`, so a batch pads to its own longest session. Training
datasets are built from a `tf.distribute.InputContext` (sharded per input
pipeline, per-replica batch size) and can be passed to
`strategy.distribute_datasets_from_function`.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf

from tagnn_tf.data.session_graph import densify
from tagnn_tf.data.sessions import SessionExamples


def _ragged_constant(examples: SessionExamples) -> tf.RaggedTensor:
    return tf.RaggedTensor.from_row_splits(
        tf.constant(examples.values, tf.int32), tf.constant(examples.row_splits, tf.int64), validate=False)


def _to_model_batch(sessions: tf.RaggedTensor, indices: tf.Tensor, labels: tf.Tensor):
    rows = tf.gather(sessions, indices)
    return densify(rows), tf.gather(labels, indices)


def train_dataset(examples: SessionExamples, global_batch_size: int, seed: int,
                  window_batches: int = 20,
                  input_context: Optional[tf.distribute.InputContext] = None) -> tf.data.Dataset:
    """One epoch of shuffled training batches `(features, labels)`.

    Examples are shuffled with `seed` (use a new seed per epoch), then sorted by
    length inside windows of `window_batches` batches, cut into batches, and the
    batches shuffled again; the last batch may be partial.

    Args:
      examples: training examples.
      global_batch_size: batch size summed over replicas.
      seed: shuffling seed for this epoch.
      window_batches: size of the length-sorting window in batches (1 = off).
      input_context: from `distribute_datasets_from_function`; shards the
        examples per input pipeline and sets the per-replica batch size.
    """
    batch_size = global_batch_size
    indices = np.random.default_rng(seed).permutation(len(examples))
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(global_batch_size)
        indices = indices[input_context.input_pipeline_id::input_context.num_input_pipelines]
    lengths = examples.lengths[indices]
    window = batch_size * window_batches
    batches = []
    for start in range(0, len(indices), window):
        chunk = indices[start:start + window]
        chunk = chunk[np.argsort(lengths[start:start + window], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    order = np.random.default_rng(seed + 1).permutation(len(batches))
    batches = [batches[i] for i in order]
    ragged_batches = tf.RaggedTensor.from_row_lengths(
        tf.constant(np.concatenate(batches) if batches else np.zeros([0], np.int64), tf.int64),
        tf.constant([len(b) for b in batches], tf.int64))
    sessions = _ragged_constant(examples)
    labels = tf.constant(examples.labels, tf.int32)
    ds = tf.data.Dataset.from_tensor_slices(ragged_batches)
    ds = ds.map(lambda idx: _to_model_batch(sessions, idx, labels), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_dataset(examples: SessionExamples, batch_size: int, max_examples: int = 0,
                 input_context: Optional[tf.distribute.InputContext] = None,
                 max_clicks: int = 0) -> tf.data.Dataset:
    """Batches for evaluation, in length order (metrics are order-free sums).

    Args:
      examples: examples to score.
      batch_size: largest (global) batch.
      max_examples: > 0 keeps only the first that many examples.
      input_context: each input pipeline gets its own share of the examples and
        the per-replica batch size.
      max_clicks: > 0 also caps the clicks (an upper bound on unique nodes) of a
        batch, which bounds the `[nodes, num_items]` score tensors: long
        sessions come in smaller batches.
    """
    n = len(examples) if not max_examples else min(max_examples, len(examples))
    order = np.argsort(examples.lengths[:n], kind="stable")
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        max_clicks = max_clicks // input_context.num_replicas_in_sync if max_clicks else 0
        order = order[input_context.input_pipeline_id::input_context.num_input_pipelines]
    lengths = examples.lengths[order]
    sizes = []
    start = 0
    while start < len(order):
        size = batch_size
        if max_clicks:
            # Lengths grow along `order`, so the last row is the longest.
            fit = np.searchsorted(np.cumsum(lengths[start:start + batch_size]), max_clicks, side="right")
            size = max(1, int(fit))
        size = min(size, len(order) - start)
        sizes.append(size)
        start += size
    batches = tf.RaggedTensor.from_row_lengths(tf.constant(order, tf.int64), tf.constant(sizes, tf.int64))
    sessions = _ragged_constant(examples)
    labels = tf.constant(examples.labels, tf.int32)
    ds = tf.data.Dataset.from_tensor_slices(batches)
    ds = ds.map(lambda idx: _to_model_batch(sessions, idx, labels), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
