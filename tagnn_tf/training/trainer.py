"""Strategy-agnostic custom training loop for TAGNN.

The same `train()` runs under the default strategy, MirroredStrategy and
MultiWorkerMirroredStrategy: the step is `strategy.run` inside a
`tf.function`, losses and metric sums are combined with `strategy.reduce`, and
datasets come from `distribute_datasets_from_function`. (Keras 3's
`model.fit` fails under MultiWorkerMirroredStrategy in this stack.)

A run directory holds: config.json (resolved config), run_info.json (git
commit, machine), metrics.jsonl (one line per epoch, percentages),
run_log.jsonl (lr, loss, speed, memory per epoch), checkpoints/ (at every
epoch end and every `checkpoint_every_steps` batches; a rerun resumes from the
last, inside an epoch if need be), best.keras (best epoch on validation),
result.json (selected epoch, plus the official code's best-on-test numbers),
tensorboard/.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import time
from typing import Callable, Dict, Optional

import keras
import numpy as np
import tensorflow as tf

from tagnn_tf.config import ExperimentConfig, TrainConfig
from tagnn_tf.data import pipeline
from tagnn_tf.data.datasets import DatasetSplits, load_splits
from tagnn_tf.data.sessions import SessionExamples
from tagnn_tf.data.synthetic import popularity_baseline
from tagnn_tf.models.tagnn import build_model
from tagnn_tf.training import ranking_metrics, run_files
from tagnn_tf.training.model_selection import bad_epochs, select, summarize

Log = Callable[[str], None]


def _print(msg: str) -> None:
    print(msg, flush=True)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                              and "chief" not in resolver.cluster_spec().as_dict())


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    # epsilon 1e-8 as PyTorch's Adam; L2 is coupled and added to the gradients.
    return keras.optimizers.Adam(learning_rate=config.learning_rate, epsilon=1e-8)


class DistributedSteps:
    """Compiled distributed train and eval steps for one model."""

    def __init__(self, model, optimizer, strategy, l2: float, micro_batches: int = 1):
        self.model, self.optimizer, self.strategy, self.l2 = model, optimizer, strategy, l2
        self.micro_batches = micro_batches
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
                logits = model(part, training=True)
                per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(part_labels - 1, logits)
                part_loss = tf.reduce_sum(per_example) / global_batch
            part_grads = [tf.convert_to_tensor(g) for g in tape.gradient(part_loss, variables)]
            grads = part_grads if grads is None else [a + b for a, b in zip(grads, part_grads)]
            loss += part_loss
        if self.l2:
            # Coupled L2 (PyTorch weight_decay): gradients are summed over
            # replicas, so each adds its share of l2 * w.
            scale = self.l2 / self.strategy.num_replicas_in_sync
            grads = [g + scale * v for g, v in zip(grads, variables)]
        opt.apply_gradients(zip(grads, variables))
        return loss

    def _replica_eval(self, features, labels):
        logits = self.model(features, training=False)
        return ranking_metrics.rank_sums(ranking_metrics.target_ranks(logits, labels))

    def train(self, batch, spec):
        if self._train_fn is None:
            @tf.function(input_signature=[spec])
            def fn(b):
                per_replica = self.strategy.run(self._replica_train, args=b)
                return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
            self._train_fn = fn
        return self._train_fn(batch)

    def evaluate(self, batch, spec):
        if self._eval_fn is None:
            @tf.function(input_signature=[spec])
            def fn(b):
                per_replica = self.strategy.run(self._replica_eval, args=b)
                return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                        for k, v in per_replica.items()}
            self._eval_fn = fn
        return self._eval_fn(batch)


def slice_batch(features: dict, start, stop) -> dict:
    """Sessions `start:stop` of a densified batch (node and click padding kept)."""
    return {k: v[start:stop] for k, v in features.items()}


def padded_length(model, examples: SessionExamples) -> int:
    """The length the official code pads `examples` to (their longest session)
    when the model copies its padding (`padding="official"`); 0 otherwise."""
    return int(examples.lengths.max()) if model.model_config.padding == "official" else 0


def eval_batches(model, examples: SessionExamples, config: TrainConfig, input_context=None) -> tf.data.Dataset:
    """The evaluation batches of `examples` for `model` (in session-length order)."""
    return pipeline.eval_dataset(examples, config.eval_batch_size, config.max_eval_examples,
                                 input_context=input_context, max_clicks=config.eval_max_clicks,
                                 padded_length=padded_length(model, examples))


def evaluate_examples(steps: DistributedSteps, examples: SessionExamples, config: TrainConfig) -> Dict[str, float]:
    """HR@K / MRR@K (%) of the model on `examples`."""
    dist = steps.strategy.distribute_datasets_from_function(
        lambda ctx: eval_batches(steps.model, examples, config, ctx))
    sums = None
    for batch in dist:
        out = steps.evaluate(batch, dist.element_spec)
        out = {k: float(v) for k, v in out.items()}
        sums = out if sums is None else {k: sums[k] + out[k] for k in sums}
    return ranking_metrics.finalize(sums)


def _check_resume_config(model_dir: str, config: ExperimentConfig) -> None:
    path = os.path.join(model_dir, run_files.CONFIG)
    if not os.path.exists(path):
        return
    with open(path) as f:
        old = ExperimentConfig.from_dict(json.load(f))
    ignore = {"epochs", "patience", "checkpoint_every_steps"}
    a = {k: v for k, v in dataclasses.asdict(old.train).items() if k not in ignore}
    b = {k: v for k, v in dataclasses.asdict(config.train).items() if k not in ignore}
    if old.model != config.model or old.data != config.data or a != b:
        raise ValueError(
            f"{model_dir} holds a run with a different configuration ({path}); use a new --model_dir "
            "or the same flags to resume")


def train(config: ExperimentConfig, model_dir: str, strategy: Optional[tf.distribute.Strategy] = None,
          log: Log = _print, splits: Optional[DatasetSplits] = None) -> dict:
    """Trains (or resumes) a run in `model_dir`; returns the result summary.

    Data are loaded and validated before anything is written. Rerunning with
    the same `model_dir` and config resumes from the last checkpoint (an epoch
    end, or inside an epoch every `checkpoint_every_steps` batches).
    """
    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    splits = splits or load_splits(config.data)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, num_items=splits.num_items))
    tc = config.train
    _check_resume_config(model_dir, config)
    log(f"data: {len(splits.train)} train / {len(splits.valid)} valid / {len(splits.test)} test examples, "
        f"{splits.num_items} items; popularity baseline test HR@20 "
        f"{popularity_baseline(splits.train, splits.test):.2f}")

    os.makedirs(model_dir, exist_ok=True)
    if chief:
        run_files.write_text_atomic(os.path.join(model_dir, run_files.CONFIG), config.to_json() + "\n")

    keras.utils.set_random_seed(tc.seed)
    with strategy.scope():
        model = build_model(config.model, seed=tc.seed)
        optimizer = make_optimizer(tc)
        optimizer.build(model.trainable_variables)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        seconds_var = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="epoch_seconds")
        # Progress inside the unfinished epoch `epoch + 1` (all 0 at an epoch end).
        batches_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="batches_done")
        partial_seconds_var = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="partial_seconds")
        partial_loss_var = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="partial_loss_sum")
    core = dict(model=model, optimizer=optimizer, epoch=epoch_var, epoch_seconds=seconds_var)
    ckpt = tf.train.Checkpoint(**core, batches_done=batches_var, partial_seconds=partial_seconds_var,
                               partial_loss_sum=partial_loss_var)
    # Every worker restores from the chief's checkpoints; only the chief's
    # saves are kept (other workers take part in the collective save into a
    # temporary folder that is deleted right after).
    chief_ckpt_dir = os.path.join(model_dir, run_files.CHECKPOINTS)
    if chief:  # copies left by workers killed during a save
        for name in os.listdir(model_dir):
            if name.startswith(".worker-tmp-"):
                shutil.rmtree(os.path.join(model_dir, name), ignore_errors=True)
    ckpt_dir = chief_ckpt_dir if chief else os.path.join(model_dir, f".worker-tmp-{os.getpid()}")
    manager = tf.train.CheckpointManager(ckpt, ckpt_dir, max_to_keep=2)
    latest = tf.train.latest_checkpoint(chief_ckpt_dir)
    if latest:
        # Model, optimizer and epoch must all be in the checkpoint; the
        # in-epoch progress is absent from epoch-end checkpoints of earlier
        # versions and then stays 0.
        tf.train.Checkpoint(**core).restore(latest).assert_existing_objects_matched().expect_partial()
        ckpt.restore(latest).expect_partial()
        log(f"resumed from {latest} (epoch {int(epoch_var.numpy())} done"
            + (f", {int(batches_var.numpy())} batches of epoch {int(epoch_var.numpy()) + 1})"
               if int(batches_var.numpy()) else ")"))
    if chief:
        lost_to = run_files.set_aside_lost_epochs(model_dir, int(epoch_var.numpy()), tc.selection_metric)
        if lost_to:
            log(f"WARNING: the logs of {model_dir} reach past the checkpoint"
                f" ({'epoch ' + str(int(epoch_var.numpy())) if latest else 'none'} in {chief_ckpt_dir}):"
                f" checkpoints were lost or deleted. Their logs are kept in {lost_to};"
                f" training redoes epochs {int(epoch_var.numpy()) + 1} onwards.")
    if chief:
        # One entry per (re)start, so a resumed run records every commit and machine it ran on.
        info_path = os.path.join(model_dir, run_files.RUN_INFO)
        info = {"sessions": []}
        if os.path.exists(info_path):
            with open(info_path) as f:
                info = json.load(f)
            if "sessions" not in info:  # a single-session file from an earlier version
                info = {"sessions": [info]}
        info["sessions"].append({"git_commit": run_files.git_commit(), "machine": run_files.machine_info(),
                                 "strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync,
                                 "epochs_done_at_start": int(epoch_var.numpy()),
                                 "batches_done_at_start": int(batches_var.numpy())})
        run_files.write_json_atomic(info_path, info)

    steps = DistributedSteps(model, optimizer, strategy, tc.l2, tc.micro_batches)
    metrics_path = os.path.join(model_dir, run_files.METRICS)
    history = [r for r in run_files.read_jsonl(metrics_path) if r["epoch"] <= int(epoch_var.numpy())]
    writer = tf.summary.create_file_writer(os.path.join(model_dir, run_files.TENSORBOARD)) if chief else None

    def finish_epoch(epoch: int, seconds: float) -> None:
        val = evaluate_examples(steps, splits.valid, tc)
        test = evaluate_examples(steps, splits.test, tc)
        row = {"epoch": epoch, "seconds": round(seconds, 2), "val": val, "test": test}
        improved = not history or val[tc.selection_metric] > select(history, tc.selection_metric)["val"][
            tc.selection_metric]
        history.append(row)
        log(f"epoch {epoch}: {seconds:.1f}s  val {_fmt(val)}  test {_fmt(test)}"
            + ("  (best so far)" if improved else ""))
        if chief:
            if improved:
                tmp = os.path.join(model_dir, "best.tmp.keras")
                model.save(tmp)
                os.replace(tmp, os.path.join(model_dir, run_files.BEST_MODEL))
            run_files.write_jsonl_atomic(metrics_path, history)
            with writer.as_default(step=epoch):
                for split, values in (("val", val), ("test", test)):
                    for k, v in values.items():
                        tf.summary.scalar(f"{split}/{k}", v)
            writer.flush()

    # A crash between the checkpoint and the metrics line: evaluate that epoch now.
    done = int(epoch_var.numpy())
    if done and (not history or history[-1]["epoch"] < done):
        finish_epoch(done, float(seconds_var.numpy()))

    num_batches = math.ceil(len(splits.train) / tc.batch_size)
    if tc.steps_per_epoch:
        num_batches = min(num_batches, tc.steps_per_epoch)

    def save(global_batches: int) -> None:
        # Numbered by global batch count; every worker takes part (collective
        # save), only the chief's copy is kept.
        manager.save(checkpoint_number=global_batches)
        if not chief:
            shutil.rmtree(ckpt_dir, ignore_errors=True)

    epoch = int(epoch_var.numpy())
    while epoch < tc.epochs and not (history and bad_epochs(history, tc.selection_metric) >= tc.patience):
        epoch += 1
        lr = tc.learning_rate_at(epoch)
        optimizer.learning_rate.assign(lr)
        epoch_seed = tc.seed * 1000 + epoch
        # A run resumed inside this epoch skips the batches it already trained on
        # (the epoch's batch order depends only on `epoch_seed`).
        skip = min(int(batches_var.numpy()), num_batches)
        prior_seconds, prior_loss_sum = float(partial_seconds_var.numpy()), float(partial_loss_var.numpy())
        dist = strategy.distribute_datasets_from_function(
            lambda ctx: pipeline.train_dataset(splits.train, tc.batch_size, epoch_seed,
                                               tc.shuffle_window_batches, input_context=ctx, skip_batches=skip,
                                               padded_length=padded_length(model, splits.train)))
        log(f"epoch {epoch}/{tc.epochs}  lr {lr:g}" + (f"  (resuming after batch {skip})" if skip else ""))
        bar = keras.utils.Progbar(num_batches, stateful_metrics=["loss"], unit_name="batch",
                                  interval=0.05 if sys.stdout.isatty() else 30.0)
        start = time.time()
        losses = []
        for step, batch in enumerate(dist, start=skip):
            if step >= num_batches:
                break
            loss = float(steps.train(batch, dist.element_spec))
            if not math.isfinite(loss):
                raise FloatingPointError(f"loss became {loss} at epoch {epoch}, step {step + 1}")
            losses.append(loss)
            bar.update(step + 1, values=[("loss", float(np.mean(losses[-100:])))])
            if tc.checkpoint_every_steps and (step + 1) % tc.checkpoint_every_steps == 0 and step + 1 < num_batches:
                batches_var.assign(step + 1)
                partial_seconds_var.assign(prior_seconds + time.time() - start)
                partial_loss_var.assign(prior_loss_sum + math.fsum(losses))
                save((epoch - 1) * num_batches + step + 1)
        seconds = prior_seconds + time.time() - start
        train_loss = (prior_loss_sum + math.fsum(losses)) / (skip + len(losses))
        examples = min(len(splits.train), num_batches * tc.batch_size)
        epoch_var.assign(epoch)
        seconds_var.assign(seconds)
        for v in (batches_var, partial_seconds_var, partial_loss_var):
            v.assign(tf.zeros_like(v))
        save(epoch * num_batches)
        if chief:
            run_files.append_jsonl(os.path.join(model_dir, run_files.RUN_LOG), {
                "epoch": epoch, "lr": lr, "train_loss": round(train_loss, 5),
                "train_seconds": round(seconds, 2), "examples_per_sec": round(examples / seconds, 1),
                "peak_rss_gb": run_files.peak_rss_gb()})
            with writer.as_default(step=epoch):
                tf.summary.scalar("train/loss", train_loss)
                tf.summary.scalar("train/learning_rate", lr)
                tf.summary.scalar("train/examples_per_sec", examples / seconds)
        finish_epoch(epoch, seconds)

    result = summarize(history, tc.selection_metric)
    if chief:
        result["model_dir"] = os.path.abspath(model_dir)
        result["best_model"] = os.path.join(os.path.abspath(model_dir), run_files.BEST_MODEL)
        result["peak_rss_gb_this_process"] = run_files.peak_rss_gb()
        run_files.write_json_atomic(os.path.join(model_dir, run_files.RESULT), result)
    log(f"selected epoch {result['selected_epoch']} on validation {tc.selection_metric}: "
        f"test {_fmt(result['test'])}")
    return result


def _fmt(m: Dict[str, float]) -> str:
    return " ".join(f"{k.upper()} {v:.2f}" for k, v in m.items())
