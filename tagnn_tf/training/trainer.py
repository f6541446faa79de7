"""Strategy-agnostic custom training loop for TAGNN.

The same `train()` runs under the default strategy, MirroredStrategy and
MultiWorkerMirroredStrategy: the step is `strategy.run` inside a
`tf.function`, losses and metric sums are combined with `strategy.reduce`, and
datasets come from `distribute_datasets_from_function`. (Keras 3's
`model.fit` fails under MultiWorkerMirroredStrategy in this stack.)

`Trainer` reads as the steps of a run (Model Garden's task + controller
split): `__init__` sets up or resumes (`RunCheckpoints`), `run` is the epoch
loop, `train_epoch` trains one epoch and checkpoints inside it,
`finish_epoch` evaluates, selects and writes the epoch's files, and
`write_result` summarises. The files it writes are listed in
`tagnn_tf.run_directory`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import sys
import time
from typing import Callable, Dict, List, Optional

import keras
import numpy as np
import tensorflow as tf

from tagnn_tf import item_ids, run_directory, run_lock
from tagnn_tf.config import ExperimentConfig, TrainConfig
from tagnn_tf.data import pipeline, session_stream
from tagnn_tf.data.datasets import DatasetSplits, load_splits
from tagnn_tf.data.session_stream import SessionStream
from tagnn_tf.data.sessions import SessionExamples
from tagnn_tf.data.synthetic import popularity_baseline
from tagnn_tf.errors import InputError
from tagnn_tf.layers.repeat_scores import (BOOST_WEIGHTS, REPEAT_FLOORS, RepeatBoost, floor_scorer,
                                           scatter_to_columns)
from tagnn_tf.layers.session_preprocessor import SessionPreprocessor
from tagnn_tf.models.model_builder import build_model, needs_click_alias
from tagnn_tf.metrics import ranking_metrics
from tagnn_tf.training.lazy_adam import LazyAdam, add_coupled_l2, add_gradients
from tagnn_tf.training.sampled_softmax import (CandidateSampler, label_counts, sampled_logits,
                                               repeat_explore_loss)
from tagnn_tf.training.checkpointing import (UNREADABLE, RunCheckpoints, TrainingProgress, checkpoint_paths,
                                             set_aside_lost_epochs)
from tagnn_tf.training.model_selection import bad_epochs, select, summarize
from tagnn_tf.training.warm_start import check_source as check_warm_start_source, warm_start

Log = Callable[[str], None]


def _print(msg: str) -> None:
    print(msg, flush=True)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                              and "chief" not in resolver.cluster_spec().as_dict())


def num_workers(strategy: tf.distribute.Strategy) -> int:
    """The worker processes of `strategy`'s cluster (chief and workers; 1 without a cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return 1
    return sum(len(v) for k, v in resolver.cluster_spec().as_dict().items() if k in ("chief", "worker"))


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    # epsilon 1e-8 as PyTorch's Adam; L2 is coupled and added to the gradients.
    # LazyAdam: Keras' Adam for dense gradients; sparse embedding rows updated lazily.
    return LazyAdam(learning_rate=config.learning_rate, epsilon=1e-8)


@dataclasses.dataclass(frozen=True)
class PosthocChoice:
    """A non-trainable weight of the repeat layer that the trainer picks on validation after each epoch.

    Attributes:
      field: its key in the epoch's metrics row and `result.json` (`boost_weight`, `repeat_floor`).
      weight: the repeat layer's attribute holding it.
      values: the values tried (the first, 0, is the model without it).
      scorer: `(scores [batch, N] with the weight at 0, features) -> (value -> [batch, N])`, the model's
        scores with the weight at `value` (what does not depend on the value computed once per batch).
    """

    field: str
    weight: str
    values: tuple
    scorer: Callable


def _boost_scorer(scores, features):
    """`weight -> scores + weight * log(1 + clicks)` at the session's items."""
    unit = scatter_to_columns(RepeatBoost.unit_scores(features["node_counts"]), features["items"],
                              tf.shape(scores)[1])
    return lambda weight: scores + weight * unit


def _floor_scorer(scores, features):
    """`floor -> scores` with the repeat floor (`repeat_scores.floor_scorer`)."""
    return floor_scorer(scores, features["items"], features["node_counts"])


BOOST_CHOICE = PosthocChoice("boost_weight", "boost", BOOST_WEIGHTS, _boost_scorer)
FLOOR_CHOICE = PosthocChoice("repeat_floor", "floor", REPEAT_FLOORS, _floor_scorer)


def posthoc_choice(model_config) -> Optional[PosthocChoice]:
    """What the trainer picks on validation for `model_config`: the boost's weight (`boost`), the repeat
    floor (`repeat_explore` with `repeat_floor="validated"`), or nothing."""
    if model_config.repeat_mechanism == "boost":
        return BOOST_CHOICE
    if model_config.repeat_mechanism == "repeat_explore" and model_config.repeat_floor == "validated":
        return FLOOR_CHOICE
    return None


class DistributedSteps:
    """Compiled distributed train and eval steps for one model."""

    def __init__(self, model, optimizer, strategy, l2: float, micro_batches: int = 1, loss: str = "cross_entropy",
                 sampler: Optional[CandidateSampler] = None, sparse_gradients: bool = True):
        """`sampler`: sampled softmax (`TrainConfig.train_candidates="sampled"`);
        None = the softmax over the whole catalogue. `sparse_gradients`: keep
        embedding gradients as row slices for `LazyAdam` (`embedding_updates="lazy"`)
        or make them dense (`"dense"`)."""
        self.model, self.optimizer, self.strategy, self.l2 = model, optimizer, strategy, l2
        self.micro_batches = micro_batches
        self.loss = loss
        self.sampler = sampler
        self.sparse_gradients = sparse_gradients
        self._train_fn = None
        self._eval_fn = None

    def _replica_train(self, features, labels):
        """One optimizer step on this replica's batch.

        With `micro_batches` > 1 the batch's sessions are processed in that
        many consecutive slices and their gradients summed: the same gradient
        as the whole batch (the loss is a sum over examples divided by the
        global batch size), with `[nodes, num_items]` temporaries a fraction
        of the size (cache-friendly on CPU).
        """
        model, opt = self.model, self.optimizer
        variables = model.trainable_variables
        batch = tf.shape(labels)[0]
        global_batch = tf.cast(batch * self.strategy.num_replicas_in_sync, tf.float32)
        size = (batch + self.micro_batches - 1) // self.micro_batches
        grads, loss = None, 0.0
        for k in range(self.micro_batches):
            if self.micro_batches == 1:
                part, part_labels = features, labels
            else:
                part = slice_batch(features, k * size, (k + 1) * size)
                part_labels = labels[k * size:(k + 1) * size]
            with tf.GradientTape() as tape:
                if self.loss == "bpr":
                    per_example = self._bpr_loss(part, part_labels, k)
                elif getattr(model, "repeat_mechanism", "none") == "repeat_explore":
                    per_example = repeat_explore_loss(model, part, part_labels, self.sampler, self._step_seed(k))
                elif self.sampler is None:
                    logits = model(part, training=True)
                    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(
                        item_ids.id_to_column(part_labels), logits)
                else:
                    logits = sampled_logits(model, part, part_labels, self.sampler, self._step_seed(k))
                    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(
                        tf.range(tf.shape(part_labels)[0]), logits)
                part_loss = tf.reduce_sum(per_example) / global_batch
            part_grads = tape.gradient(part_loss, variables)
            if not self.sparse_gradients:
                part_grads = [tf.convert_to_tensor(g) for g in part_grads]
            grads = part_grads if grads is None else [add_gradients(a, b) for a, b in zip(grads, part_grads)]
            loss += part_loss
        if self.l2:
            # Coupled L2 (PyTorch weight_decay): gradients are summed over
            # replicas, so each adds its share of l2 * w (sparse gradients: on their rows).
            scale = self.l2 / self.strategy.num_replicas_in_sync
            grads = [add_coupled_l2(g, v, scale) for g, v in zip(grads, variables)]
        opt.apply_gradients(zip(grads, variables))
        return loss

    def _step_seed(self, part: int):
        """Stateless seed of a step's random draws: the step, and this micro-batch of this replica
        (a resumed run draws the same)."""
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        return tf.stack([tf.cast(self.optimizer.iterations, tf.int32),
                         part + self.micro_batches * tf.cast(replica, tf.int32)])

    def _bpr_loss(self, features, labels, part: int):
        """`[batch]` BPR losses (Rendle et al. 2009): `-log sigmoid(z_label - z_negative)`.

        One negative per example, drawn uniformly from the catalogue
        (stateless, seeded by the step, so a resumed run draws the same; a
        draw of the label itself counts 0). Only the `2 batch` candidates
        (the labels, then the negatives) are scored, `[batch, 2 batch]`, not
        the catalogue: row i's positive is column i, its negative column
        `batch + i`. The loss is the one over the whole catalogue's scores;
        the embedding gradients are on those rows only (`LazyAdam`).
        """
        model = self.model
        columns = tf.cast(item_ids.id_to_column(labels), tf.int32)
        negatives = tf.random.stateless_uniform(tf.shape(columns), self._step_seed(part), 0, model.num_items,
                                                tf.int32)
        candidates = tf.concat([columns, negatives], axis=0)  # [2 batch]
        candidates_t = tf.transpose(model.candidate_vectors(item_ids.column_to_id(candidates)))
        logits = model(features, candidates_t=candidates_t, training=True)  # [batch, 2 batch]
        rows = tf.range(tf.shape(columns)[0])
        positive = tf.gather(logits, rows, axis=1, batch_dims=1)
        negative = tf.gather(logits, rows + tf.shape(columns)[0], axis=1, batch_dims=1)
        return tf.where(tf.equal(negatives, columns), 0.0, -tf.math.log_sigmoid(positive - negative))

    def _replica_eval(self, features, labels):
        logits = self.model(features, training=False)
        repeats = ranking_metrics.label_repeats(features["items"], labels)
        return ranking_metrics.rank_sums(ranking_metrics.target_ranks(logits, labels), repeats=repeats)

    def _replica_eval_choice(self, choice: PosthocChoice):
        """The replica function of rank sums for every value of `choice`, keyed `w{i}:`.

        The model's scores are computed once with the weight at 0 (the caller
        sets it first); `choice.scorer` gives each value's scores from them.
        """
        def fn(features, labels):
            scored = choice.scorer(self.model(features, training=False), features)
            repeats = ranking_metrics.label_repeats(features["items"], labels)
            out = {}
            for i, value in enumerate(choice.values):
                ranks = ranking_metrics.target_ranks(scored(value), labels)
                out.update({f"w{i}:{k}": v for k, v in ranking_metrics.rank_sums(ranks, repeats=repeats).items()})
            return out
        return fn

    def train(self, batch, spec):
        if self._train_fn is None:
            @tf.function(input_signature=[spec])
            def fn(b):
                per_replica = self.strategy.run(self._replica_train, args=b)
                return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
            self._train_fn = fn
        return self._train_fn(batch)

    def evaluate(self, batch, spec, choice: Optional[PosthocChoice] = None):
        """Summed rank metrics of a batch (`choice`: for every value of it, `_replica_eval_choice`)."""
        key = choice.field if choice else "plain"
        if self._eval_fn is None:
            self._eval_fn = {}
        if key not in self._eval_fn:
            replica_fn = self._replica_eval_choice(choice) if choice else self._replica_eval

            @tf.function(input_signature=[spec])
            def fn(b):
                per_replica = self.strategy.run(replica_fn, args=b)
                return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                        for k, v in per_replica.items()}
            self._eval_fn[key] = fn
        return self._eval_fn[key](batch)


def slice_batch(features: dict, start, stop) -> dict:
    """Sessions `start:stop` of a densified batch (node and click padding kept)."""
    return {k: v[start:stop] for k, v in features.items()}


def padded_length(model, examples) -> int:
    """The length the official code pads `examples` to (their longest session; streamed: the part's longest
    session - 1) when the model copies its padding (`padding="official"`); 0 otherwise."""
    return examples.max_prefix_length if model.padding == "official" else 0


def model_preprocessor(model) -> SessionPreprocessor:
    """The pipeline's preprocessor for `model` (per-click inputs for the sequence models)."""
    return SessionPreprocessor(with_click_alias=needs_click_alias(model))


def eval_batches(model, examples, config: TrainConfig, input_context=None) -> tf.data.Dataset:
    """The evaluation batches of `examples` (`SessionExamples` or a `SessionStream`) for `model` (in
    session-length order)."""
    if isinstance(examples, SessionStream):
        return session_stream.eval_dataset(
            examples, config.eval_batch_size, config.max_eval_examples or config.stream_eval_examples,
            input_context=input_context,
            max_clicks=config.eval_max_clicks, padded_length=padded_length(model, examples),
            preprocessor=model_preprocessor(model))
    return pipeline.eval_dataset(examples, config.eval_batch_size, config.max_eval_examples,
                                 input_context=input_context, max_clicks=config.eval_max_clicks,
                                 padded_length=padded_length(model, examples), preprocessor=model_preprocessor(model))


def target_ranks(model, examples, config: TrainConfig, limit: int = 0) -> np.ndarray:
    """int32 `[len(examples)]`: the 1-based rank of each target under `model`, in `examples`' order
    (a `SessionStream`: shard order); `limit` > 0: of the first `limit` examples of a `SessionStream`."""
    dataset = eval_batches(model, examples, dataclasses.replace(config, max_eval_examples=limit,
                                                                stream_eval_examples=0))

    # Traced once for any batch shape (a first batch of one-node sessions would otherwise
    # trace with a static size-1 axis, on which Keras warns about the softmax).
    @tf.function(input_signature=list(dataset.element_spec), autograph=False)  # no control flow to convert
    def ranks(features, labels):
        return ranking_metrics.target_ranks(model(features, training=False), labels)

    in_eval_order = np.concatenate([ranks(features, labels).numpy() for features, labels in dataset])
    out = np.empty_like(in_eval_order)
    if isinstance(examples, SessionStream):
        out[session_stream.eval_order(examples, config.eval_batch_size, config.eval_max_clicks,
                                      limit)] = in_eval_order
    else:
        out[np.argsort(examples.lengths, kind="stable")] = in_eval_order  # eval_dataset's order
    return out


def evaluate_examples(steps: DistributedSteps, examples, config: TrainConfig,
                      choice: Optional[PosthocChoice] = None):
    """HR@K / MRR@K (%) of the model on `examples`, overall and on the repeat / new labels.

    With `choice`: a list, the metrics for each of `choice.values` (the model's weight at 0).
    """
    dist = steps.strategy.distribute_datasets_from_function(
        lambda ctx: eval_batches(steps.model, examples, config, ctx))
    sums = None
    for batch in dist:
        out = steps.evaluate(batch, dist.element_spec, choice)
        out = {k: float(v) for k, v in out.items()}
        sums = out if sums is None else {k: sums[k] + out[k] for k in sums}
    if not choice:
        return ranking_metrics.finalize(sums)
    return [ranking_metrics.finalize({k.split(":", 1)[1]: v for k, v in sums.items() if k.startswith(f"w{i}:")})
            for i in range(len(choice.values))]


def check_resume_config(model_dir: str, config: ExperimentConfig) -> None:
    """Refuses to continue a run in `model_dir` trained with another configuration.

    Only `epochs` (not with `lr_schedule="linear"`, whose rates it sets),
    `patience` and `checkpoint_every_steps` may change between a run and its
    resumption.
    """
    if not os.path.exists(os.path.join(model_dir, run_directory.CONFIG)):
        return
    old = run_directory.read_config(model_dir)
    ignore = {"patience", "checkpoint_every_steps"} | ({"epochs"} if old.train.lr_schedule != "linear" else set())
    a = {k: v for k, v in dataclasses.asdict(old.train).items() if k not in ignore}
    b = {k: v for k, v in dataclasses.asdict(config.train).items() if k not in ignore}
    if old.model != config.model or old.data != config.data or a != b:
        raise InputError(
            f"{model_dir} holds a run with a different configuration "
            f"({os.path.join(model_dir, run_directory.CONFIG)}); use a new --model_dir or the same flags to resume")


def resolve_catalogue(config: ExperimentConfig, splits: DatasetSplits) -> ExperimentConfig:
    """`config` with `data.num_items` set to the catalogue size of the loaded data."""
    return dataclasses.replace(config, data=dataclasses.replace(config.data, num_items=splits.num_items))


@dataclasses.dataclass
class EpochStats:
    """What training one epoch measured."""

    epoch: int
    lr: float
    seconds: float
    train_loss: float
    examples: int


class Trainer:
    """One training run in `model_dir`: set up or resumed on construction, trained by `run()`.

    Data are loaded and validated before anything is written. Rerunning with
    the same `model_dir` and config resumes from the last checkpoint (an epoch
    end, or inside an epoch every `checkpoint_every_steps` batches). The chief
    holds `model_dir`'s lock (`tagnn_tf.run_lock`) from set-up until `close()`,
    so a second trainer on the same directory is refused (`hold_lock=False`:
    the caller holds it already).
    """

    def __init__(self, config: ExperimentConfig, model_dir: str, strategy: Optional[tf.distribute.Strategy] = None,
                 log: Log = _print, splits: Optional[DatasetSplits] = None, hold_lock: bool = True):
        self.strategy = strategy or tf.distribute.get_strategy()
        self.chief = is_chief(self.strategy)
        self.model_dir = model_dir
        self.log = log
        self.splits = splits or load_splits(config.data)
        empty = [name for name, part in (("training", self.splits.train), ("validation", self.splits.valid),
                                         ("test", self.splits.test)) if len(part) == 0]
        if empty:
            raise InputError(f"dataset {config.data.dataset!r} has no {' and no '.join(empty)} examples: nothing "
                             "to train on or score (re-preprocess with a longer --test_days, or check the data)")
        self.items = self.splits.items or run_directory.identity_items(self.splits.num_items)
        self.config = resolve_catalogue(config, self.splits)
        self.train_config = self.config.train
        check_resume_config(model_dir, self.config)
        run_directory.check_run_items(model_dir, self.items)
        if config.train.warm_start_from and not checkpoint_paths(os.path.join(model_dir, run_directory.CHECKPOINTS)):
            check_warm_start_source(config.train.warm_start_from)  # before anything is written
        self.streamed = isinstance(self.splits.train, SessionStream)
        log(f"data: {len(self.splits.train)} train / {len(self.splits.valid)} valid / {len(self.splits.test)} test "
            f"examples, {self.splits.num_items} items; " + (
                f"streamed from {len(self.splits.train.shards)} training shards, "
                f"{self.splits.train.block_shards} at a time"
                if self.streamed else
                f"popularity baseline test HR@20 {popularity_baseline(self.splits.train, self.splits.test):.2f}"))

        os.makedirs(model_dir, exist_ok=True)
        self._holds_lock = False
        if self.chief and hold_lock:
            holder = run_lock.claim_run(model_dir)
            if holder:
                raise InputError(f"{model_dir} is {holder}: two trainers must not share a --model_dir (wait for "
                                 "it to finish, or use another --model_dir)")
            self._holds_lock = True
        try:
            self._set_up()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Releases `model_dir`'s lock (when this trainer took it)."""
        if self._holds_lock:
            run_lock.release_run(self.model_dir)
            self._holds_lock = False

    def _set_up(self) -> None:
        """Writes the config, builds model and optimizer, restores the newest checkpoint."""
        model_dir, tc = self.model_dir, self.train_config
        if self.chief:
            run_directory.write_text_atomic(self._path(run_directory.CONFIG), self.config.to_json() + "\n")
            run_directory.write_items(model_dir, self.items)
        keras.utils.set_random_seed(tc.seed)
        with self.strategy.scope():
            self.model = build_model(self.config.model, self.config.data.num_items, seed=tc.seed)
            self.optimizer = make_optimizer(tc)
            self.optimizer.build(self.model.trainable_variables)
            self.progress = TrainingProgress()
        self.checkpoints = RunCheckpoints(model_dir, self.model, self.optimizer, self.progress, self.chief)
        self._resume()
        started = self.progress.values()
        if tc.warm_start_from and not started.epoch and not started.batches_done:  # a fresh run, not a resume
            counts = warm_start(self.model, self.items, tc.warm_start_from)
            self.log(f"warm start from {tc.warm_start_from}: {counts['shared_items']} items keep their trained "
                     f"embeddings, {counts['new_items']} new, {counts['dropped_items']} dropped")
        sampler = None
        if tc.train_candidates == "sampled":
            per_replica_batch = max(tc.batch_size // self.strategy.num_replicas_in_sync, 1)
            counts = (self.splits.train.label_counts(self.config.data.num_items) if self.streamed
                      else label_counts(self.splits.train.labels, self.config.data.num_items))
            sampler = CandidateSampler(counts, tc.num_negatives, tc.negative_sampling, per_replica_batch)
        self.steps = DistributedSteps(self.model, self.optimizer, self.strategy, tc.l2, tc.micro_batches, tc.loss,
                                      sampler, sparse_gradients=(tc.embedding_updates == "lazy"))
        done = self.progress.values().epoch
        self.history: List[dict] = [r for r in run_directory.read_jsonl(self._path(run_directory.METRICS), self.log)
                                    if r["epoch"] <= done]
        self.writer = (tf.summary.create_file_writer(self._path(run_directory.TENSORBOARD)) if self.chief
                       else None)
        if self.streamed:  # every worker is one input pipeline reading its own shards
            self.num_batches = session_stream.steps_per_epoch(self.splits.train, tc.batch_size, num_workers(
                self.strategy), self.strategy.num_replicas_in_sync)
        else:
            self.num_batches = math.ceil(len(self.splits.train) / tc.batch_size)
        if tc.steps_per_epoch:
            self.num_batches = min(self.num_batches, tc.steps_per_epoch)

    def _path(self, name: str) -> str:
        return os.path.join(self.model_dir, name)

    def _resume(self) -> None:
        """Restores the newest checkpoint, sets aside logs it does not cover, records this start."""
        latest, failed = self.checkpoints.restore_latest()
        progress = self.progress.values()

        def rel(path):  # the run's log names its files relative to the run directory
            return os.path.relpath(path, self.model_dir)

        for path, why in failed:
            self.log(f"WARNING: checkpoint {rel(path)} could not be restored ({why})"
                     + (f"; moved into {rel(os.path.join(self.checkpoints.chief_dir, UNREADABLE))}"
                        if self.chief else ""))
        if failed:
            self.log(f"WARNING: resuming from {rel(latest)}, the newest checkpoint that restores")
        if latest:
            log_inside = (f", {progress.batches_done} batches of epoch {progress.epoch + 1})"
                          if progress.batches_done else ")")
            self.log(f"resumed from {rel(latest)} (epoch {progress.epoch} done" + log_inside)
        if not self.chief:
            return
        self._drop_stale_lr_choices(progress.epoch)
        lost_to = set_aside_lost_epochs(self.model_dir, progress.epoch, self.train_config.selection_metric)
        if lost_to:
            self.log(f"WARNING: the run's logs reach past the checkpoint"
                     f" ({'epoch ' + str(progress.epoch) if latest else 'none'} in {rel(self.checkpoints.chief_dir)}):"
                     f" checkpoints were lost or deleted. Their logs are kept in {rel(lost_to)};"
                     f" training redoes epochs {progress.epoch + 1} onwards.")
        # One entry per (re)start, so a resumed run records every commit and machine it ran on.
        info_path = self._path(run_directory.RUN_INFO)
        info = {"sessions": []}
        if os.path.exists(info_path):
            info = run_directory.read_json(info_path)
            if "sessions" not in info:  # a single-session file from an earlier version
                info = {"sessions": [info]}
        info["sessions"].append({"git_commit": run_directory.git_commit(), "machine": run_directory.machine_info(),
                                 "strategy": type(self.strategy).__name__,
                                 "replicas": self.strategy.num_replicas_in_sync,
                                 "epochs_done_at_start": progress.epoch,
                                 "batches_done_at_start": progress.batches_done})
        run_directory.write_json_atomic(info_path, info)

    def run(self) -> dict:
        """The epoch loop, with early stopping; returns the result summary."""
        tc = self.train_config
        # A crash between the checkpoint and the metrics line: evaluate that epoch now.
        progress = self.progress.values()
        if progress.epoch and (not self.history or self.history[-1]["epoch"] < progress.epoch):
            self.finish_epoch(progress.epoch, progress.epoch_seconds)
        epoch = progress.epoch
        while epoch < tc.epochs and not (self.history and
                                         bad_epochs(self.history, tc.selection_metric) >= tc.patience):
            epoch += 1
            if tc.lr_decision_at(epoch, self.lr_choices()):
                self.decide_epoch(epoch)
                continue
            stats = self.train_epoch(epoch)
            self.write_epoch_log(stats)
            self.finish_epoch(epoch, stats.seconds)
        return self.write_result()

    def lr_choices(self) -> List[Optional[str]]:
        """Each finished epoch's `validated` decision ("decay", "hold"; None: none), from `metrics.jsonl`."""
        return [row.get("lr_choice", {}).get("chosen") for row in self.history]

    def _lr_choice_dir(self, epoch: int) -> str:
        return self._path(os.path.join(run_directory.LR_CHOICE, f"epoch-{epoch}"))

    def _drop_stale_lr_choices(self, epochs_done: int) -> None:
        """Deletes the `validated` decisions past the one due next: left by a lineage whose checkpoints were
        lost (the decision of epoch `epochs_done + 1` continues from this run's checkpoint)."""
        root = self._path(run_directory.LR_CHOICE)
        for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            number = name[len("epoch-"):]
            if name.startswith("epoch-") and number.isdigit() and int(number) > epochs_done + 1:
                self.log(f"WARNING: {run_directory.LR_CHOICE}/{name} belongs to epochs the checkpoints no longer "
                         "hold; deleted (the decision is made again)")
                shutil.rmtree(os.path.join(root, name))

    def decide_epoch(self, epoch: int) -> None:
        """`validated`: trains epoch `epoch` at the current rate ("hold") and decayed ("decay"), both from the
        checkpoint of epoch `epoch - 1`, and continues from the one better on validation (a tie: "decay").

        Each branch trains in `lr_choice/epoch-<epoch>/<branch>/` with its own checkpoints, so a crash resumes
        inside it; `choice.json` records the decision before the run adopts it, and the epoch's
        `metrics.jsonl` row carries it as `lr_choice`. Under MultiWorkerMirroredStrategy every worker
        computes the same (collective) validation and so the same choice, and restores the chief's
        checkpoints, as a resumed run does; only the chief writes.
        """
        tc = self.train_config
        folder = self._lr_choice_dir(epoch)
        hold = tc.learning_rate_at(epoch, 0.0, (), self.lr_choices())
        rates = {"decay": hold * tc.lr_decay_rate, "hold": hold}
        choice_path = os.path.join(folder, "choice.json")
        if os.path.exists(choice_path):
            choice = run_directory.read_json(choice_path)
        else:
            start = checkpoint_paths(self.checkpoints.chief_dir)
            if not start:  # a decision at epoch 1: the branches start from the initial (or warm-started) model
                self.checkpoints.save(0)
                self._wait_for_chief()
                start = checkpoint_paths(self.checkpoints.chief_dir)
            self.log(f"epoch {epoch}/{tc.epochs}: choosing the learning rate on validation: training the epoch at "
                     f"{rates['decay']:g} (decay) and at {rates['hold']:g} (hold) from the same checkpoint")
            branches = {name: self._train_branch(epoch, name, rate, start[0]) for name, rate in rates.items()}
            metric = tc.selection_metric
            chosen = "hold" if branches["hold"]["val"] > branches["decay"]["val"] else "decay"
            choice = {"chosen": chosen, "lr": rates, "val": {n: b["val"] for n, b in branches.items()},
                      "train_seconds": {n: b["seconds"] for n, b in branches.items()},
                      "stats": branches[chosen]["stats"]}
            self.log(f"epoch {epoch}: validation {metric} {branches['decay']['val']:.2f} with the decay, "
                     f"{branches['hold']['val']:.2f} without; continuing with the {chosen} branch")
            if self.chief:
                run_directory.write_json_atomic(choice_path, choice)
        self.checkpoints.restore(checkpoint_paths(os.path.join(folder, choice["chosen"], run_directory.CHECKPOINTS))[0])
        self.checkpoints.save(epoch * self.num_batches)
        if choice["stats"]:
            self.write_epoch_log(EpochStats(**choice["stats"]))
        self.finish_epoch(epoch, self.progress.values().epoch_seconds)

    def _wait_for_chief(self) -> None:
        """Under MultiWorkerMirroredStrategy, a collective no-op: a worker returns from a collective save
        before the chief has written the files, so the workers wait here until the chief is past its save."""
        if num_workers(self.strategy) > 1:
            self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(lambda: tf.constant(1.0)), axis=None)

    def _train_branch(self, epoch: int, name: str, lr: float, start: str) -> dict:
        """One branch of `decide_epoch`: epoch `epoch` at rate `lr` from checkpoint `start` (or from where the
        branch's own checkpoints got); returns {"val": validation `selection_metric`, "seconds", "stats"}."""
        folder = os.path.join(self._lr_choice_dir(epoch), name)
        done_path, trained_path = os.path.join(folder, "branch.json"), os.path.join(folder, "trained.json")
        if os.path.exists(done_path):
            return run_directory.read_json(done_path)
        os.makedirs(folder, exist_ok=True)
        branch = RunCheckpoints(folder, self.model, self.optimizer, self.progress, self.chief)
        if branch.restore_latest()[0] is None:
            self.checkpoints.restore(start)
        if self.progress.values().epoch < epoch:
            main, self.checkpoints = self.checkpoints, branch
            try:
                stats = dataclasses.asdict(self.train_epoch(epoch, lr=lr))
            finally:
                self.checkpoints = main
            if self.chief:
                run_directory.write_json_atomic(trained_path, stats)
        else:  # trained before a crash; its loss is lost if the crash came before trained.json
            stats = run_directory.read_json(trained_path) if os.path.exists(trained_path) else None
        val, _ = self.validate()
        out = {"lr": lr, "val": val[self.train_config.selection_metric],
               "seconds": self.progress.values().epoch_seconds, "stats": stats}
        self.log(f"epoch {epoch} at lr {lr:g} ({name}): val {_fmt(val)}")
        if self.chief:
            run_directory.write_json_atomic(done_path, out)
        return out

    def train_epoch(self, epoch: int, lr: Optional[float] = None) -> EpochStats:
        """Trains epoch `epoch` (from where a resumed run left it), checkpointing inside and at its end.

        `lr`: a constant rate for the epoch instead of the schedule's (`decide_epoch`'s branches).
        """
        tc = self.train_config
        epoch_seed = tc.seed * 1000 + epoch
        progress = self.progress.values()
        # A run resumed inside this epoch skips the batches it already trained on
        # (the epoch's batch order depends only on `epoch_seed`).
        skip = min(progress.batches_done, self.num_batches)
        valid_history = [row["val"][tc.selection_metric] for row in self.history]
        if lr is None:
            lr = tc.learning_rate_at(epoch, skip / self.num_batches, valid_history, self.lr_choices())
        self.optimizer.learning_rate.assign(lr)
        per_batch = tc.lr_schedule == "linear"  # the rate changes batch by batch
        train = self.splits.train
        official_length = padded_length(self.model, train)
        preprocessor = model_preprocessor(self.model)
        if self.streamed:
            def dataset_fn(ctx):
                if epoch == progress.epoch + 1:  # the first epoch this process trains: say what it reads
                    shards = session_stream.pipeline_shards(train, ctx.input_pipeline_id, ctx.num_input_pipelines)
                    self.log(f"input pipeline {ctx.input_pipeline_id} of {ctx.num_input_pipelines} reads training "
                             f"shards {shards.tolist()} of {len(train.shards)}")
                return session_stream.train_dataset(train, tc.batch_size, epoch_seed, tc.shuffle_window_batches,
                                                    input_context=ctx, skip_batches=skip,
                                                    padded_length=official_length, preprocessor=preprocessor)
        else:
            def dataset_fn(ctx):
                return pipeline.train_dataset(train, tc.batch_size, epoch_seed, tc.shuffle_window_batches,
                                              input_context=ctx, skip_batches=skip, padded_length=official_length,
                                              preprocessor=preprocessor)
        dist = self.strategy.distribute_datasets_from_function(dataset_fn)
        self.log(f"epoch {epoch}/{tc.epochs}  lr {lr:g}"
                 + (f" falling to {tc.learning_rate_at(epoch + 1, 0.0, valid_history):g}" if per_batch else "")
                 + (f"  (resuming after batch {skip})" if skip else ""))
        bar = keras.utils.Progbar(self.num_batches, stateful_metrics=["loss"], unit_name="batch",
                                  interval=0.05 if sys.stdout.isatty() else 30.0)
        start = time.time()
        losses = []
        for step, batch in enumerate(dist, start=skip):
            if step >= self.num_batches:
                break
            if per_batch:
                self.optimizer.learning_rate.assign(tc.learning_rate_at(epoch, step / self.num_batches))
            loss = float(self.steps.train(batch, dist.element_spec))
            if not math.isfinite(loss):
                raise FloatingPointError(f"loss became {loss} at epoch {epoch}, step {step + 1}")
            losses.append(loss)
            bar.update(step + 1, values=[("loss", float(np.mean(losses[-100:])))])
            if (tc.checkpoint_every_steps and (step + 1) % tc.checkpoint_every_steps == 0
                    and step + 1 < self.num_batches):
                self.progress.mark_inside_epoch(step + 1, progress.partial_seconds + time.time() - start,
                                                progress.partial_loss_sum + math.fsum(losses))
                self.checkpoints.save((epoch - 1) * self.num_batches + step + 1)
        seconds = progress.partial_seconds + time.time() - start
        train_loss = (progress.partial_loss_sum + math.fsum(losses)) / (skip + len(losses))
        self.progress.mark_epoch_end(epoch, seconds)
        self.checkpoints.save(epoch * self.num_batches)
        return EpochStats(epoch=epoch, lr=lr, seconds=seconds, train_loss=train_loss,
                          examples=min(len(train), self.num_batches * tc.batch_size))

    def write_epoch_log(self, stats: EpochStats) -> None:
        """The epoch's `run_log.jsonl` line and TensorBoard training scalars (chief only)."""
        if not self.chief:
            return
        rate = stats.examples / stats.seconds
        run_directory.append_jsonl(self._path(run_directory.RUN_LOG), {
            "epoch": stats.epoch, "lr": stats.lr, "train_loss": round(stats.train_loss, 5),
            "train_seconds": round(stats.seconds, 2), "examples_per_sec": round(rate, 1),
            "peak_rss_gb": run_directory.peak_rss_gb()})
        with self.writer.as_default(step=stats.epoch):
            tf.summary.scalar("train/loss", stats.train_loss)
            tf.summary.scalar("train/learning_rate", stats.lr)
            tf.summary.scalar("train/examples_per_sec", rate)

    def validate(self):
        """(validation metrics, extra fields of the epoch's row) of the model as it is."""
        tc = self.train_config
        choice = posthoc_choice(self.config.model)
        if choice:
            val, value = self.pick(choice, tc)
            return val, {choice.field: value}
        return evaluate_examples(self.steps, self.splits.valid, tc), {}

    def finish_epoch(self, epoch: int, seconds: float) -> None:
        """Evaluates epoch `epoch`, and (chief) writes its metrics and, if it is the best so far, `best.keras`."""
        tc = self.train_config
        started = time.perf_counter()
        val, extra = self.validate()
        choice_path = os.path.join(self._lr_choice_dir(epoch), "choice.json")
        if tc.lr_schedule == "validated" and os.path.exists(choice_path):
            choice = run_directory.read_json(choice_path)
            extra["lr_choice"] = {k: choice[k] for k in ("chosen", "lr", "val", "train_seconds")}
        test = evaluate_examples(self.steps, self.splits.test, tc)
        row = {"epoch": epoch, "seconds": round(seconds, 2), "eval_seconds": round(time.perf_counter() - started, 2),
               **extra, "val": val, "test": test}
        improved = (not self.history
                    or val[tc.selection_metric] > select(self.history, tc.selection_metric)["val"][tc.selection_metric])
        self.history.append(row)
        self.log(f"epoch {epoch}: {seconds:.1f}s  val {_fmt(val)}  test {_fmt(test)}"
                 + ("  (best so far)" if improved else ""))
        if not self.chief:
            return
        if improved:
            tmp = self._path("best.tmp.keras")
            self.model.save(tmp)
            os.replace(tmp, self._path(run_directory.BEST_MODEL))
        run_directory.write_jsonl_atomic(self._path(run_directory.METRICS), self.history)
        if "lr_choice" in extra:  # the branches' checkpoints are no longer needed
            for name in extra["lr_choice"]["lr"]:
                shutil.rmtree(os.path.join(self._lr_choice_dir(epoch), name, run_directory.CHECKPOINTS),
                              ignore_errors=True)
        with self.writer.as_default(step=epoch):
            for split, values in (("val", val), ("test", test)):
                for k, v in values.items():
                    tf.summary.scalar(f"{split}/{k}", v)
        self.writer.flush()

    def pick(self, choice: PosthocChoice, tc: TrainConfig):
        """(validation metrics, value): the value of `choice.values` best on validation `selection_metric`
        (the smallest on a tie), set in the model (the boost's weight, the repeat floor)."""
        weight = getattr(self.model.repeat, choice.weight)
        weight.assign(0.0)
        per_value = evaluate_examples(self.steps, self.splits.valid, tc, choice)
        best = max(range(len(choice.values)), key=lambda i: (per_value[i][tc.selection_metric], -i))
        weight.assign(choice.values[best])
        self.log(f"{choice.field} on validation " + ", ".join(
            f"{w:g}: {m[tc.selection_metric]:.2f}" for w, m in zip(choice.values, per_value))
            + f"; picked {choice.values[best]:g}")
        return per_value[best], choice.values[best]

    def write_result(self) -> dict:
        """The selected epoch's summary; the chief writes it as `result.json`."""
        tc = self.train_config
        result = summarize(self.history, tc.selection_metric)
        if self.chief:
            # Relative to the run directory, so a committed run reads the same on every machine.
            result["best_model"] = run_directory.BEST_MODEL
            result["peak_rss_gb_this_process"] = run_directory.peak_rss_gb()
            # The selected model's test ranks, for paired comparisons between runs.
            best = keras.saving.load_model(self._path(run_directory.BEST_MODEL))
            # Streamed: the examples each epoch scores (a log's whole test part can take hours).
            limit = (tc.max_eval_examples or tc.stream_eval_examples) if self.streamed else 0
            run_directory.write_test_ranks(self.model_dir, target_ranks(best, self.splits.test, tc, limit))
            run_directory.write_json_atomic(self._path(run_directory.RESULT), result)
        self.log(f"selected epoch {result['selected_epoch']} on validation {tc.selection_metric}: "
                 f"test {_fmt(result['test'])}")
        return result


def train(config: ExperimentConfig, model_dir: str, strategy: Optional[tf.distribute.Strategy] = None,
          log: Log = _print, splits: Optional[DatasetSplits] = None, hold_lock: bool = True) -> dict:
    """Trains (or resumes) a neural run in `model_dir`; returns the result summary (see `Trainer`).

    `tagnn_tf.launcher.train` runs any `--model` (it fits the non-neural ones).
    """
    trainer = Trainer(config, model_dir, strategy, log, splits, hold_lock)
    try:
        return trainer.run()
    finally:
        trainer.close()


def _fmt(m: Dict[str, float]) -> str:
    """The overall metrics, and the repeat share and repeat / new HR@20 when present."""
    text = " ".join(f"{k.upper()} {v:.2f}" for k, v in m.items() if "/" not in k and k != "repeat_share")
    if "repeat_share" in m:
        subsets = " ".join(f"{s} {m[s + '/hr@20']:.2f}" for s in ranking_metrics.SUBSETS if s + "/hr@20" in m)
        text += f" (HR@20 of the {m['repeat_share']:.0f}% repeat labels / the others: {subsets})"
    return text
