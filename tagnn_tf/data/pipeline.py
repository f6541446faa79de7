"""tf.data input pipelines: shuffled, length-bucketed, densified in graph.

Sessions are gathered as ragged rows and turned into session graphs per batch
by a `SessionPreprocessor` (the layer the serving model owns too), so a batch
pads to its own longest session. Training
datasets are built from a `tf.distribute.InputContext` (sharded per input
pipeline, per-replica batch size) and can be passed to
`strategy.distribute_datasets_from_function`.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf

from tagnn_tf.data.sessions import SessionExamples
from tagnn_tf.errors import InputError
from tagnn_tf.layers.session_preprocessor import SessionPreprocessor


# Batch assembly is ~7 ms against a ~200 ms step, so two threads and two
# prefetched batches keep the model fed. tf.data's autotuner is off: on this
# 2-core VM its threads compete with the model for the cores, and with it on
# some evaluation passes stalled ~30 s at the end of iteration
# (benchmarks/README.md, "tf.data autotune").
INPUT_THREADS = 2
PREFETCH_BATCHES = 2


def finish(ds: tf.data.Dataset, autotune: bool = False) -> tf.data.Dataset:
    if autotune:  # tf.data's defaults, for benchmarks/eval_throughput.py's comparison
        return ds.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(PREFETCH_BATCHES).with_options(options)


def _ragged_constant(examples: SessionExamples) -> tf.RaggedTensor:
    return tf.RaggedTensor.from_row_splits(
        tf.constant(examples.values, tf.int32), tf.constant(examples.row_splits, tf.int64), validate=False)


def model_batch(preprocessor: SessionPreprocessor, sessions: tf.RaggedTensor, labels: tf.Tensor,
                padded_length: int = 0):
    """`(features, labels)` of a batch of sessions `[batch, (clicks)]` (`padded_length`: as in `train_dataset`)."""
    features = preprocessor(sessions)
    if padded_length:  # ModelConfig.padding="official"
        features["padded_length"] = tf.fill(tf.shape(labels), tf.constant(padded_length, tf.int32))
    return features, labels


def _to_model_batch(preprocessor: SessionPreprocessor, sessions: tf.RaggedTensor, indices: tf.Tensor,
                    labels: tf.Tensor, padded_length: int = 0):
    return model_batch(preprocessor, tf.gather(sessions, indices), tf.gather(labels, indices), padded_length)


def plan_global_batches(lengths: np.ndarray, global_batch_size: int, seed: int,
                        window_batches: int = 20) -> list:
    """Example indices of each global batch of one epoch (NumPy, cheap).

    Examples are shuffled with `seed`, sorted by length inside windows of
    `window_batches` batches (so a batch pads to its own longest session), cut
    into batches, and the batches shuffled; the last batch may be partial.
    """
    indices = np.random.default_rng(seed).permutation(len(lengths))
    window = global_batch_size * window_batches
    batches = []
    for start in range(0, len(indices), window):
        chunk = indices[start:start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + global_batch_size] for i in range(0, len(chunk), global_batch_size))
    order = np.random.default_rng(seed + 1).permutation(len(batches))
    return [batches[i] for i in order]


def _ragged_batches(batches) -> tf.RaggedTensor:
    return tf.RaggedTensor.from_row_lengths(
        tf.constant(np.concatenate(batches) if batches else np.zeros([0], np.int64), tf.int64),
        tf.constant([len(b) for b in batches], tf.int64))


def plan_eval_batches(lengths: np.ndarray, batch_size: int, max_clicks: int = 0, replicas: int = 1) -> list:
    """Example indices of each global evaluation batch, in length order (`eval_dataset`'s batches).

    Each batch holds at least one example per replica, at most `batch_size`
    examples and (with `max_clicks` > 0) about `max_clicks` clicks; no tail
    smaller than one example per replica is left.
    """
    n = len(lengths)
    order = np.argsort(lengths, kind="stable")
    lengths = lengths[order]
    sizes = []
    start = 0
    while start < n:
        size = batch_size
        if max_clicks:
            # Lengths grow along `order`, so the last row is the longest.
            fit = np.searchsorted(np.cumsum(lengths[start:start + batch_size]), max_clicks, side="right")
            size = max(replicas, int(fit))
        size = min(size, n - start)
        if n - start - size < replicas:  # no tail smaller than one example per replica
            size = n - start
        sizes.append(size)
        start += size
    return np.split(order, np.cumsum(sizes)[:-1]) if sizes else []


def local_slices(global_batches: list, input_context: Optional[tf.distribute.InputContext]) -> list:
    """This input pipeline's per-replica slices of every global batch, in replica order.

    Every pipeline gets the same number of batches (one per local replica per
    global step), which collective ops across workers require.
    """
    if input_context is None or input_context.num_replicas_in_sync == 1:
        return global_batches
    replicas = input_context.num_replicas_in_sync
    local = replicas // input_context.num_input_pipelines
    first = input_context.input_pipeline_id * local
    return [part for b in global_batches for part in np.array_split(b, replicas)[first:first + local]]


def train_dataset(examples: SessionExamples, global_batch_size: int, seed: int,
                  window_batches: int = 20,
                  input_context: Optional[tf.distribute.InputContext] = None,
                  skip_batches: int = 0, padded_length: int = 0,
                  preprocessor: Optional[SessionPreprocessor] = None) -> tf.data.Dataset:
    """One epoch of shuffled training batches `(features, labels)`.

    Every input pipeline plans the same global batches (`plan_global_batches`),
    then splits each into one slice per replica and keeps its own replicas'
    slices, in replica order. So the examples of a global step are the same
    whatever the number of replicas or workers.

    Args:
      examples: training examples.
      global_batch_size: batch size summed over replicas.
      seed: shuffling seed for this epoch.
      window_batches: size of the length-sorting window in batches (1 = off).
      input_context: from `distribute_datasets_from_function`.
      skip_batches: leave out the epoch's first that many global batches (a
        run resumed inside an epoch).
      padded_length: > 0 adds the `padded_length` feature (the model's
        `padding="official"`).
      preprocessor: builds each batch's session graphs (default: a plain
        `SessionPreprocessor()`).
    """
    batches = local_slices(
        plan_global_batches(examples.lengths, global_batch_size, seed, window_batches)[skip_batches:],
        input_context)
    sessions = _ragged_constant(examples)
    labels = tf.constant(examples.labels, tf.int32)
    ds = tf.data.Dataset.from_tensor_slices(_ragged_batches(batches))
    preprocessor = preprocessor or SessionPreprocessor()
    return finish(ds.map(lambda idx: _to_model_batch(preprocessor, sessions, idx, labels, padded_length),
                          num_parallel_calls=INPUT_THREADS, deterministic=True))


def eval_dataset(examples: SessionExamples, batch_size: int, max_examples: int = 0,
                 input_context: Optional[tf.distribute.InputContext] = None,
                 max_clicks: int = 0, autotune: bool = False, padded_length: int = 0,
                 preprocessor: Optional[SessionPreprocessor] = None) -> tf.data.Dataset:
    """Batches for evaluation, in length order (metrics are order-free sums).

    Args:
      examples: examples to score.
      batch_size: largest (global) batch.
      max_examples: > 0 keeps only the first that many examples.
      input_context: from `distribute_datasets_from_function`; global batches
        are split per replica as in `train_dataset`.
      max_clicks: > 0 also caps the clicks (an upper bound on unique nodes) of a
        global batch, which bounds the `[nodes, num_items]` score tensors: long
        sessions come in smaller batches.
      autotune: use tf.data's autotuned parallelism and prefetch instead of
        the fixed settings (`INPUT_THREADS`); kept for comparison only.
      padded_length, preprocessor: as in `train_dataset`.
    """
    n = len(examples) if not max_examples else min(max_examples, len(examples))
    replicas = input_context.num_replicas_in_sync if input_context is not None else 1
    if n < replicas:
        raise InputError(f"Cannot evaluate {n} examples on {replicas} replicas")
    # Global batches first (each at least one example per replica), then every
    # pipeline keeps its replicas' slices: the same step count everywhere.
    batches = local_slices(plan_eval_batches(examples.lengths[:n], batch_size, max_clicks, replicas), input_context)
    sessions = _ragged_constant(examples)
    labels = tf.constant(examples.labels, tf.int32)
    ds = tf.data.Dataset.from_tensor_slices(_ragged_batches(batches))
    threads = tf.data.AUTOTUNE if autotune else INPUT_THREADS
    preprocessor = preprocessor or SessionPreprocessor()
    return finish(ds.map(lambda idx: _to_model_batch(preprocessor, sessions, idx, labels, padded_length),
                          num_parallel_calls=threads), autotune)

