"""A streamed input pipeline over session shards: prefixes cut on the fly, memory bounded by a block.

`DataConfig(input_pipeline="stream")` trains from a dataset folder's session
shards (`tagnn_tf.data.session_shards`) without materialising the `(prefix,
label)` examples of the whole log:

* **Planning reads lengths only.** Which examples a split holds, how many
  batches each shard gives and each worker's step count come from the
  shards' `length` columns (4 bytes a session), one shard at a time.
* **Validation on sessions.** An example is the pair (session number `g` in
  its part, prefix length `c`). `valid_split="time"` holds out the sessions
  from the first number on that the in-memory split holds out (the same
  examples); `sessions` holds out session `g` when a seeded hash of `g` is
  below `valid_portion`, `examples` the example when a hash of `(g, c)` is
  (the in-memory splits draw with a permutation instead: the same share,
  another draw).
* **Training, per input pipeline.** Pipeline `p` of `P` (one per worker under
  MultiWorkerMirroredStrategy) reads only the shards `p, p + P, ...`. Each
  epoch it permutes them (seeded by the epoch), reads `block_shards` shards
  at a time, cuts their sessions into examples, shuffles them and sorts them
  by length inside windows (`pipeline.plan_global_batches`, the in-memory
  pipeline's planner, on the block); the next block is read ahead on a
  thread. A block enters the graph once (its examples and the example
  indices of its batches), and each per-replica batch is gathered there on
  `pipeline.INPUT_THREADS` threads, as in memory. Every pipeline stops after the same
  number of steps: the smallest `floor(examples_p / batch) // local
  replicas` of all pipelines (the partial batches at block ends are the
  only examples an epoch can leave out).
* **Exact resume inside an epoch.** The batch counts of the blocks follow
  from the plan, so skipping `k` batches skips whole blocks without reading
  them and regenerates only the block the run stopped in.
* **Evaluation** reads the split's shards in order, block by block
  (`eval_blocks`: shards without an example of the split are not read, and
  a block holds at least one example per replica); every pipeline plans the
  same global batches (`pipeline.plan_eval_batches`) and keeps its
  replicas' slices, as in memory.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import os
from typing import Iterator, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from tagnn_tf import item_ids, run_directory
from tagnn_tf.arguments import VALID_SPLITS, check_choice
from tagnn_tf.config import DataConfig
from tagnn_tf.data import pipeline, session_shards
from tagnn_tf.data.session_shards import Manifest, ShardInfo
from tagnn_tf.data.sessions import SessionExamples, example_positions, expand_sessions
from tagnn_tf.errors import DataFileError, InputError
from tagnn_tf.layers.session_preprocessor import SessionPreprocessor

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on a uint64 array (wraps modulo 2**64)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def unit_hash(seed: int, *keys: np.ndarray) -> np.ndarray:
    """float64 in [0, 1) per element of the (broadcast) integer `keys`, a seeded hash."""
    h = _mix(np.full(np.broadcast(*keys).shape if keys else (), seed % 2**64, np.uint64))
    for key in keys:
        h = _mix(h ^ np.asarray(key).astype(np.uint64))
    return (h >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


@dataclasses.dataclass(frozen=True)
class HeldOut:
    """Which training examples are validation examples (module docstring).

    `first_time_session`: `how="time"`: the first held-out session number.
    """

    how: str
    portion: float
    seed: int
    first_time_session: int = 0

    def __post_init__(self):
        check_choice("valid_split", self.how, VALID_SPLITS)

    def is_valid(self, sessions: np.ndarray, prefix_lengths: np.ndarray) -> np.ndarray:
        """bool per example `(sessions[e], prefix_lengths[e])`: a validation example."""
        if self.how == "time":
            return sessions >= self.first_time_session
        if self.how == "sessions":
            return unit_hash(self.seed, sessions) < self.portion
        return unit_hash(self.seed, sessions, prefix_lengths) < self.portion


def _splits_of(lengths: np.ndarray) -> np.ndarray:
    row_splits = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=row_splits[1:])
    return row_splits


def first_time_session(manifest: Manifest, portion: float) -> int:
    """The first session number `split_validation(..., how="time")` holds out of the training part.

    The same rule on the same examples: the most recent sessions (with at
    least one example) holding `round(portion * examples)` examples, at least
    one session and never all. Reads the `length` column of the shards from
    the last back to the one the cut falls in (the manifest says whether
    earlier shards hold a session with an example).
    """
    shards = manifest.shards("train")
    total = manifest.count("train", "examples")
    target = max(int(round(total * portion)), 1)
    seen_examples, seen_sessions = 0, 0
    for k in range(len(shards) - 1, -1, -1):
        lengths = session_shards.read_lengths(manifest, shards[k])
        numbers = (shards[k].first_session + np.flatnonzero(lengths > 1))[::-1]  # sessions with an example
        reach = seen_examples + np.cumsum((lengths[lengths > 1] - 1)[::-1])
        earlier = any(s.examples for s in shards[:k])  # another session with an example before this shard
        # The in-memory rule: searchsorted(cumsum, target) + 1 sessions, clipped to [1, all - 1].
        hit = int(np.searchsorted(reach, target))
        if hit < len(numbers) and (earlier or hit < len(numbers) - 1):
            return int(numbers[hit])
        if not earlier:  # the cut would take every session: keep the oldest one for training
            if seen_sessions + len(numbers) < 2:
                raise InputError(f"valid_split='time' needs at least 2 sessions; the data holds "
                                 f"{seen_sessions + len(numbers)}")
            return int(numbers[-2]) if len(numbers) >= 2 else int(_first_with_example(manifest, k + 1))
        seen_examples = int(reach[-1]) if len(reach) else seen_examples
        seen_sessions += len(numbers)
    raise AssertionError("unreachable: the cut is inside the training part")


def _first_with_example(manifest: Manifest, start: int) -> int:
    """The first session with an example in the training shards from `start` on."""
    for shard in manifest.shards("train")[start:]:
        lengths = session_shards.read_lengths(manifest, shard)
        if (lengths > 1).any():
            return shard.first_session + int(np.flatnonzero(lengths > 1)[0])
    raise AssertionError("no session with an example")


def split_counts(manifest: Manifest, held_out: HeldOut) -> Tuple[np.ndarray, np.ndarray]:
    """(training, validation) examples of each training shard under `held_out`.

    `time`: from the manifest, but for the shard the cut falls in;
    `sessions`: a hash per session; `examples`: a hash per example. Only the
    `length` columns are read.
    """
    shards = manifest.shards("train")
    valid = np.zeros(len(shards), np.int64)
    for k, shard in enumerate(shards):
        if held_out.how == "time" and shard.first_session >= held_out.first_time_session:
            valid[k] = shard.examples
        elif held_out.how == "time" and shard.first_session + shard.sessions <= held_out.first_time_session:
            continue
        else:
            lengths = session_shards.read_lengths(manifest, shard)
            numbers = shard.first_session + np.arange(len(lengths), dtype=np.int64)
            if held_out.how == "examples":
                sessions, prefix_lengths = example_positions(_splits_of(lengths))
                valid[k] = np.count_nonzero(held_out.is_valid(sessions + shard.first_session, prefix_lengths))
            else:  # every example of a session is held out or none is
                held = held_out.is_valid(numbers, np.zeros_like(numbers))
                valid[k] = int((lengths[held] - 1).clip(0).sum())
    examples = np.array([s.examples for s in shards], np.int64)
    return examples - valid, valid


class SessionStream:
    """The examples of one split (train, valid or test) of a sharded dataset, read a shard at a time.

    Args:
      manifest: the dataset (`session_shards.read_manifest`).
      part: `train` or `test`.
      held_out: the validation rule (`part="train"` only).
      valid: with `held_out`, the validation examples (True) or the others.
      block_shards: shards read, shuffled and batched together.
    """

    def __init__(self, manifest: Manifest, part: str, held_out: Optional[HeldOut] = None, valid: bool = False,
                 block_shards: int = 4, counts: Optional[np.ndarray] = None):
        """`counts`: this split's examples per shard, when the caller has them (`split_counts`)."""
        if block_shards < 1:
            raise InputError(f"`block_shards` must be >= 1. Received: block_shards={block_shards}")
        self.manifest, self.part, self.held_out, self.valid = manifest, part, held_out, valid
        self.block_shards = block_shards
        self.shards: Tuple[ShardInfo, ...] = manifest.shards(part)
        if counts is None:
            counts = ([s.examples for s in self.shards] if held_out is None
                      else split_counts(manifest, held_out)[1 if valid else 0])
        self.counts = np.asarray(counts, np.int64)

    def __len__(self) -> int:
        return int(self.counts.sum())

    @property
    def max_prefix_length(self) -> int:
        """An upper bound of the longest prefix (the part's longest session - 1)."""
        return max([s.max_length - 1 for s in self.shards] or [0])

    def prefix(self, i: int) -> list:
        """The prefix of example `i` (in shard order)."""
        shard = int(np.searchsorted(np.cumsum(self.counts), i, side="right"))
        if shard >= len(self.shards):
            raise IndexError(f"example {i} of {len(self)}")
        return self.examples(self.shards[shard]).prefix(i - int(self.counts[:shard].sum()))

    def _keep(self, row_splits: np.ndarray, first_session: int) -> Optional[np.ndarray]:
        if self.held_out is None:
            return None
        sessions, prefix_lengths = example_positions(row_splits)
        return self.held_out.is_valid(sessions + first_session, prefix_lengths) == self.valid

    def positions(self, shard: ShardInfo) -> Tuple[np.ndarray, np.ndarray]:
        """`(session numbers, prefix lengths)` of this split's examples in `shard`, from its lengths only."""
        row_splits = _splits_of(session_shards.read_lengths(self.manifest, shard))
        sessions, prefix_lengths = example_positions(row_splits)
        keep = self._keep(row_splits, shard.first_session)
        if keep is not None:
            sessions, prefix_lengths = sessions[keep], prefix_lengths[keep]
        return sessions + shard.first_session, prefix_lengths

    def examples(self, shard: ShardInfo) -> SessionExamples:
        """This split's examples in `shard`, in the reference order."""
        values, row_splits = session_shards.read_shard(self.manifest, shard)
        return expand_sessions(values, row_splits, self._keep(row_splits, shard.first_session))

    def block_examples(self, shard_indices, kept: Optional[np.ndarray] = None) -> SessionExamples:
        """The examples of the shards `shard_indices`, one shard after the other (with `kept`: only the
        first `kept[j]` examples of shard `shard_indices[j]`)."""
        parts = [self.examples(self.shards[i]) for i in shard_indices]
        if kept is not None:
            parts = [p if k == len(p) else p.take(np.arange(k)) for p, k in zip(parts, kept)]
        return concat_examples(parts)

    def label_counts(self, num_items: int) -> np.ndarray:
        """int64 `[num_items]`: how often each item (score column) is a label of this split.

        Reads the items only: the labels of a session are its clicks after the
        first (click `c` labels the prefix of length `c`), no prefix is built;
        a shard whose examples all belong to this split needs no example
        positions at all. Two shards are read at a time.
        """
        def count(k):
            shard = self.shards[k]
            if self.counts[k] == 0:
                return None
            values, row_splits = session_shards.read_shard(self.manifest, shard)
            if self.counts[k] == shard.examples:  # the whole shard: every click but each session's first
                labels = np.delete(values, row_splits[:-1][np.diff(row_splits) > 0])
            else:
                sessions, prefix_lengths = example_positions(row_splits)
                keep = self._keep(row_splits, shard.first_session)
                labels = values[row_splits[:-1][sessions] + prefix_lengths][keep]
            return np.bincount(item_ids.id_to_column(labels.astype(np.int64)), minlength=num_items)[:num_items]

        counts = np.zeros(num_items, np.int64)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            for part in pool.map(count, range(len(self.shards))):
                if part is not None:
                    counts += part
        return counts


def concat_examples(parts: List[SessionExamples]) -> SessionExamples:
    """The examples of `parts`, one after the other."""
    if not parts:
        return SessionExamples(np.zeros([0], np.int32), np.zeros([1], np.int64), np.zeros([0], np.int32))
    lengths = np.concatenate([p.lengths for p in parts])
    return SessionExamples(np.concatenate([p.values for p in parts]), _splits_of(lengths),
                           np.concatenate([p.labels for p in parts]))


@dataclasses.dataclass(frozen=True)
class StreamedSplits:
    """The three splits of a sharded dataset as `SessionStream`s (`datasets.DatasetSplits`' fields)."""

    train: SessionStream
    valid: SessionStream
    test: SessionStream
    num_items: int
    items: Tuple[str, ...] = ()


def open_streamed_splits(config: DataConfig, folder: str) -> StreamedSplits:
    """The streamed splits of the sharded dataset in `folder` (`config.input_pipeline="stream"`).

    Raises:
      DataFileError: `folder` has no session shards (with the command that writes them).
      InputError: `config.num_items` below the manifest's catalogue.
    """
    manifest = session_shards.read_manifest(folder)
    if manifest is None:
        raise DataFileError(
            f"{folder}: input_pipeline='stream' reads session shards ({session_shards.MANIFEST}), and this folder "
            f"has none. Write them with: python -m trainers.preprocess --format=srgnn --input={folder} "
            f"--output_dir=DIR --dataset=NAME (or preprocess the raw log again)")
    items = None
    items_path = os.path.join(folder, run_directory.ITEMS)
    if os.path.isfile(items_path):
        items = run_directory.read_items_file(items_path)
    num_items = len(items) if items else manifest.num_items
    if config.num_items and config.num_items < num_items:
        raise InputError(f"Catalogue size num_items={config.num_items} is smaller than the dataset's "
                         f"{num_items} items ({os.path.join(folder, session_shards.MANIFEST)})")
    num_items = config.num_items or num_items
    if not 0.0 < config.valid_portion < 1.0:
        raise InputError(f"`portion` must be in (0, 1). Received: portion={config.valid_portion!r}")
    first = first_time_session(manifest, config.valid_portion) if config.valid_split == "time" else 0
    held_out = HeldOut(config.valid_split, config.valid_portion, config.split_seed, first)
    block = config.stream_block_shards
    train_counts, valid_counts = split_counts(manifest, held_out)
    return StreamedSplits(train=SessionStream(manifest, "train", held_out, valid=False, block_shards=block,
                                              counts=train_counts),
                          valid=SessionStream(manifest, "train", held_out, valid=True, block_shards=block,
                                              counts=valid_counts),
                          test=SessionStream(manifest, "test", block_shards=block), num_items=num_items,
                          items=items or run_directory.identity_items(num_items))


def _pipeline_of(input_context: Optional[tf.distribute.InputContext]) -> Tuple[int, int, int]:
    """(pipeline id, pipelines, local replicas)."""
    if input_context is None:
        return 0, 1, 1
    return (input_context.input_pipeline_id, input_context.num_input_pipelines,
            input_context.num_replicas_in_sync // input_context.num_input_pipelines)


def pipeline_shards(stream: SessionStream, pipeline_id: int, num_pipelines: int) -> np.ndarray:
    """The shard indices input pipeline `pipeline_id` reads: `pipeline_id, pipeline_id + P, ...`."""
    if len(stream.shards) < num_pipelines:
        raise InputError(f"{num_pipelines} input pipelines (workers) need at least as many training shards; the "
                         f"dataset has {len(stream.shards)}: preprocess it with a smaller --shard_sessions")
    return np.arange(pipeline_id, len(stream.shards), num_pipelines)


def steps_per_epoch(stream: SessionStream, global_batch_size: int, num_pipelines: int = 1,
                    replicas: int = 1) -> int:
    """The global steps of a streamed epoch: every pipeline has at least that many per-replica batches
    per local replica, however its shards fall into blocks."""
    per_replica = max(global_batch_size // replicas, 1)
    local = max(replicas // num_pipelines, 1)
    return min(int(stream.counts[pipeline_shards(stream, p, num_pipelines)].sum()) // per_replica // local
               for p in range(num_pipelines))


def _epoch_blocks(stream: SessionStream, seed: int, pipeline_id: int, num_pipelines: int):
    order = np.random.default_rng([seed, 7]).permutation(pipeline_shards(stream, pipeline_id, num_pipelines))
    return [order[i:i + stream.block_shards] for i in range(0, len(order), stream.block_shards)]


def _read_ahead(blocks, read) -> Iterator:
    """`read(block)` of each block in order, the next one computed on a thread while the caller uses this one."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(read, blocks[0]) if blocks else None
        for k in range(len(blocks)):
            current = pending.result()
            pending = pool.submit(read, blocks[k + 1]) if k + 1 < len(blocks) else None
            yield current


def train_blocks(stream: SessionStream, per_replica_batch: int, seed: int, window_batches: int = 20,
                 pipeline_id: int = 0, num_pipelines: int = 1,
                 skip_batches: int = 0) -> Iterator[Tuple[SessionExamples, List[np.ndarray]]]:
    """`(examples, example indices of each per-replica batch)` of every block one input pipeline reads in the
    epoch seeded `seed` (module docstring), after skipping its first `skip_batches` batches."""
    blocks = _epoch_blocks(stream, seed, pipeline_id, num_pipelines)
    sizes = [math.ceil(int(stream.counts[b].sum()) / per_replica_batch) for b in blocks]
    first = 0
    while first < len(blocks) and skip_batches >= sizes[first]:  # whole blocks skipped without reading them
        skip_batches -= sizes[first]
        first += 1

    def read(k):
        examples = stream.block_examples(blocks[k])
        plan = pipeline.plan_global_batches(examples.lengths, per_replica_batch, seed * 100_003 + k, window_batches)
        return examples, plan[skip_batches if k == first else 0:]

    yield from _read_ahead(list(range(first, len(blocks))), read)


def train_batches(stream: SessionStream, per_replica_batch: int, seed: int, window_batches: int = 20,
                  pipeline_id: int = 0, num_pipelines: int = 1, skip_batches: int = 0) -> Iterator[SessionExamples]:
    """The per-replica training batches `train_dataset` yields (`train_blocks`' arguments), in NumPy."""
    for examples, plan in train_blocks(stream, per_replica_batch, seed, window_batches, pipeline_id, num_pipelines,
                                       skip_batches):
        for indices in plan:
            yield examples.take(indices)


def _dataset(blocks_fn, preprocessor: Optional[SessionPreprocessor], padded_length: int,
             take: int = -1) -> tf.data.Dataset:
    """Model batches from `blocks_fn()`'s `(examples, plan)` blocks: Python hands over one block at a time
    (its examples and the example indices of its batches), and each batch is gathered in the graph on
    `pipeline.INPUT_THREADS` threads, as the in-memory pipeline does."""
    def generate():
        for examples, plan in blocks_fn():
            if plan:
                yield (examples.values, examples.row_splits, examples.labels, np.concatenate(plan),
                       np.array([len(b) for b in plan], np.int64))

    blocks = tf.data.Dataset.from_generator(generate, output_signature=(
        tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.int64)))

    def block_batches(values, row_splits, labels, plan_values, plan_lengths):
        indices = tf.RaggedTensor.from_row_lengths(plan_values, plan_lengths, validate=False)
        return tf.data.Dataset.from_tensor_slices(indices).map(
            lambda i: (i, values, row_splits, labels))

    ds = blocks.flat_map(block_batches)
    if take >= 0:
        ds = ds.take(take)
    preprocessor = preprocessor or SessionPreprocessor()

    def batch(indices, values, row_splits, labels):
        sessions = tf.RaggedTensor.from_row_splits(values, row_splits, validate=False)
        return pipeline.model_batch(preprocessor, tf.gather(sessions, indices), tf.gather(labels, indices),
                                    padded_length)

    return pipeline.finish(ds.map(batch, num_parallel_calls=pipeline.INPUT_THREADS, deterministic=True))


def train_dataset(stream: SessionStream, global_batch_size: int, seed: int, window_batches: int = 20,
                  input_context: Optional[tf.distribute.InputContext] = None,
                  skip_batches: int = 0, padded_length: int = 0,
                  preprocessor: Optional[SessionPreprocessor] = None) -> tf.data.Dataset:
    """One streamed epoch of `(features, labels)` per-replica batches (`pipeline.train_dataset`'s arguments);
    exactly `steps_per_epoch` global steps after `skip_batches` of them."""
    pipeline_id, pipelines, local = _pipeline_of(input_context)
    replicas = pipelines * local
    per_replica = max(global_batch_size // replicas, 1)
    steps = steps_per_epoch(stream, global_batch_size, pipelines, replicas)
    skip = min(skip_batches, steps) * local
    return _dataset(lambda: train_blocks(stream, per_replica, seed, window_batches, pipeline_id, pipelines, skip),
                    preprocessor, padded_length, take=(steps * local - skip))


def eval_blocks(stream: SessionStream, replicas: int = 1, max_examples: int = 0) -> List[Tuple[np.ndarray, np.ndarray]]:
    """`(shard indices, examples kept from each)` of each evaluation block, in shard order, from the counts
    only (the first `max_examples` examples when > 0).

    Shards without an example of this split are never read (a `time` validation split lives in the last
    shards). A block holds `block_shards` shards and at least `replicas` examples, so that every global
    batch has one example per replica: a shorter tail joins the block before it.
    """
    counts = stream.counts
    if max_examples:
        before = np.cumsum(counts) - counts
        counts = np.clip(max_examples - before, 0, counts)
    blocks, current = [], []
    for i in np.flatnonzero(counts):
        current.append(i)
        if len(current) >= stream.block_shards and counts[current].sum() >= replicas:
            blocks.append(current)
            current = []
    if current:
        if blocks and counts[current].sum() < replicas:
            blocks[-1] += current
        else:
            blocks.append(current)
    return [(np.asarray(b, np.int64), counts[b]) for b in blocks]


def eval_plan(stream: SessionStream, batch_size: int, max_clicks: int = 0, replicas: int = 1,
              max_examples: int = 0):
    """`(shard indices, examples kept from each, global batches)` of each evaluation block (`eval_blocks`),
    planned from the lengths only."""
    for block, kept in eval_blocks(stream, replicas, max_examples):
        lengths = np.concatenate([stream.positions(stream.shards[i])[1][:k] for i, k in zip(block, kept)])
        yield block, kept, pipeline.plan_eval_batches(lengths, batch_size, max_clicks, replicas)


def eval_dataset(stream: SessionStream, batch_size: int, max_examples: int = 0,
                 input_context: Optional[tf.distribute.InputContext] = None, max_clicks: int = 0,
                 padded_length: int = 0, preprocessor: Optional[SessionPreprocessor] = None) -> tf.data.Dataset:
    """Evaluation batches of a streamed split (`pipeline.eval_dataset`'s arguments), block by block."""
    replicas = input_context.num_replicas_in_sync if input_context is not None else 1
    if min(len(stream), max_examples or len(stream)) < replicas:
        raise InputError(f"Cannot evaluate {len(stream)} examples on {replicas} replicas")

    def blocks():
        plans = list(eval_plan(stream, batch_size, max_clicks, replicas, max_examples))

        def read(k):
            block, kept, plan = plans[k]
            return stream.block_examples(block, kept), pipeline.local_slices(plan, input_context)

        yield from _read_ahead(list(range(len(plans))), read)

    return _dataset(blocks, preprocessor, padded_length)


def eval_order(stream: SessionStream, batch_size: int, max_clicks: int = 0, max_examples: int = 0) -> np.ndarray:
    """int64 `[len(stream)]` (or `[max_examples]`): the stream position (shard order) of each example in
    `eval_dataset`'s order."""
    out, offset = [], 0
    for _, kept, plan in eval_plan(stream, batch_size, max_clicks, 1, max_examples):
        out.append(offset + np.concatenate(plan))
        offset += int(kept.sum())
    return np.concatenate(out) if out else np.zeros([0], np.int64)

