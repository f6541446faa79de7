"""Checkpoints of a training run, and the logs of epochs whose checkpoints were lost.

A checkpoint holds the model, the optimizer and a `TrainingProgress`: the
epochs done, and how far the next epoch got (a run checkpoints inside epochs
every `checkpoint_every_steps` batches). Under MultiWorkerMirroredStrategy
every worker restores from the chief's `checkpoints/`; only the chief's saves
are kept (the other workers take part in the collective save into a temporary
folder that is deleted right after).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import shutil
from typing import List, Optional, Tuple

import tensorflow as tf

from tagnn_tf import run_directory
from tagnn_tf.errors import InputError
from tagnn_tf.training.model_selection import select

_WORKER_TMP_PREFIX = ".worker-tmp-"
_INDEX = re.compile(r"ckpt-([0-9]+)\.index")
# Checkpoints that failed to restore are moved here (kept for inspection, never read).
UNREADABLE = "unreadable"
# What reading a truncated, corrupted or half-deleted checkpoint raises.
_UNREADABLE_ERRORS = (tf.errors.OpError, ValueError, AssertionError, IndexError)


class TrainingProgress(tf.Module):
    """How far a run got, as checkpointed variables.

    epoch: epochs finished; epoch_seconds: training time of the last one.
    batches_done, partial_seconds, partial_loss_sum: progress inside the
    unfinished epoch `epoch + 1` (all 0 at an epoch end).
    """

    def __init__(self):
        super().__init__(name="training_progress")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.epoch_seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="epoch_seconds")
        self.batches_done = tf.Variable(0, dtype=tf.int64, trainable=False, name="batches_done")
        self.partial_seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="partial_seconds")
        self.partial_loss_sum = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="partial_loss_sum")

    def values(self) -> "ProgressValues":
        return ProgressValues(int(self.epoch.numpy()), float(self.epoch_seconds.numpy()),
                              int(self.batches_done.numpy()), float(self.partial_seconds.numpy()),
                              float(self.partial_loss_sum.numpy()))

    def mark_inside_epoch(self, batches_done: int, seconds: float, loss_sum: float) -> None:
        self.batches_done.assign(batches_done)
        self.partial_seconds.assign(seconds)
        self.partial_loss_sum.assign(loss_sum)

    def mark_epoch_end(self, epoch: int, seconds: float) -> None:
        self.epoch.assign(epoch)
        self.epoch_seconds.assign(seconds)
        self.mark_inside_epoch(0, 0.0, 0.0)


@dataclasses.dataclass(frozen=True)
class ProgressValues:
    """A `TrainingProgress` read into Python numbers."""

    epoch: int
    epoch_seconds: float
    batches_done: int
    partial_seconds: float
    partial_loss_sum: float


class RunCheckpoints:
    """Saves and restores `model`, `optimizer` and `progress` in `<model_dir>/checkpoints/`.

    Restoring tries the checkpoints on disk newest first and takes the first
    that restores completely, so a damaged or half-deleted newest checkpoint
    falls back to the one before it. The chief moves the ones that fail into
    `checkpoints/unreadable/` and rewrites the checkpoint state to list only
    intact ones, so that the two kept (`max_to_keep=2`) are restorable and the
    one resumed from is deleted only after a newer save is complete.
    """

    def __init__(self, model_dir: str, model, optimizer, progress: TrainingProgress, chief: bool):
        self.chief = chief
        self.chief_dir = os.path.join(model_dir, run_directory.CHECKPOINTS)
        # The key names are the checkpoint format: runs resume across versions.
        self._core = dict(model=model, optimizer=optimizer, epoch=progress.epoch,
                          epoch_seconds=progress.epoch_seconds)
        # Dropout's random state (keras.random.SeedGenerator variables, which tf.train.Checkpoint does not
        # reach through the model): a resumed run draws the masks the uninterrupted one draws.
        seed_states = [v.value for v in model.non_trainable_variables
                       if v.path.endswith("seed_generator_state")]
        self._checkpoint = tf.train.Checkpoint(**self._core, batches_done=progress.batches_done,
                                               partial_seconds=progress.partial_seconds,
                                               partial_loss_sum=progress.partial_loss_sum,
                                               seed_states=seed_states)
        if chief:  # copies left by workers killed during a save
            for name in os.listdir(model_dir):
                if name.startswith(_WORKER_TMP_PREFIX):
                    shutil.rmtree(os.path.join(model_dir, name), ignore_errors=True)
        self._dir = self.chief_dir if chief else os.path.join(model_dir, f"{_WORKER_TMP_PREFIX}{os.getpid()}")
        self._manager = None  # created at the first save, after the state is repaired

    def restore(self, path: str) -> None:
        """Restores the checkpoint `path` (any run's with the same objects) into model, optimizer and progress."""
        # Model, optimizer and epoch must all be in the checkpoint; the in-epoch
        # progress is absent from epoch-end checkpoints of earlier versions and
        # then stays 0.
        tf.train.Checkpoint(**self._core).restore(path).assert_existing_objects_matched().expect_partial()
        self._checkpoint.restore(path).expect_partial()

    def restore_latest(self) -> Tuple[Optional[str], List[Tuple[str, str]]]:
        """Restores the newest of the chief's checkpoints that restores completely.

        Returns:
          (its path or None when there is no checkpoint, [(path, why) of each
          newer checkpoint that failed]); the chief has moved those into
          `checkpoints/unreadable/`.

        Raises:
          InputError: checkpoints exist but none restores (nothing is moved:
            a run that cannot read any of its checkpoints stops rather than
            starting again).
        """
        failed = []
        restored = None
        for path in checkpoint_paths(self.chief_dir):
            try:
                self.restore(path)
                restored = path
                break
            except _UNREADABLE_ERRORS as e:
                failed.append((path, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]))
        if failed and restored is None:
            raise InputError(f"none of the checkpoints in {self.chief_dir} restores: "
                             + "; ".join(f"{os.path.basename(p)}: {why}" for p, why in failed)
                             + ". Move the folder aside to train this run again from epoch 1.")
        if self.chief and failed:
            unreadable = os.path.join(self.chief_dir, UNREADABLE)
            os.makedirs(unreadable, exist_ok=True)
            for path, _ in failed:
                for name in glob.glob(glob.escape(path) + ".*"):
                    os.replace(name, os.path.join(unreadable, os.path.basename(name)))
            # The state lists the intact ones only, so the manager keeps (and
            # later deletes) restorable checkpoints.
            # (Timestamps: without them the manager treats the listed ones as
            # preserved forever.)
            intact = [os.path.abspath(p) for p in reversed(checkpoint_paths(self.chief_dir))]  # oldest first
            tf.compat.v1.train.update_checkpoint_state(
                self.chief_dir, intact[-1], intact,
                all_model_checkpoint_timestamps=[os.path.getmtime(p + ".index") for p in intact],
                last_preserved_timestamp=0.0)
        return restored, failed

    def save(self, global_batches: int) -> None:
        """Saves as `ckpt-<global_batches>`; every worker takes part (collective save)."""
        if self._manager is None:
            self._manager = tf.train.CheckpointManager(self._checkpoint, self._dir, max_to_keep=2)
        self._manager.save(checkpoint_number=global_batches)
        if not self.chief:
            shutil.rmtree(self._dir, ignore_errors=True)


def checkpoint_paths(directory: str) -> List[str]:
    """The `<directory>/ckpt-<n>` prefixes whose index file exists, newest (largest n) first."""
    names = os.listdir(directory) if os.path.isdir(directory) else []
    numbers = sorted((int(m.group(1)) for m in map(_INDEX.fullmatch, names) if m), reverse=True)
    return [os.path.join(directory, f"ckpt-{n}") for n in numbers]


def set_aside_lost_epochs(model_dir: str, epochs_done: int, selection_metric: str) -> Optional[str]:
    """Keeps the logs of epochs the checkpoints no longer hold, before training redoes them.

    The epoch-end checkpoint is written before an epoch's metrics, so
    `metrics.jsonl` or `run_log.jsonl` reaching past `epochs_done` (the epoch
    of the checkpoint restored, 0 without one) means the checkpoints were lost
    or deleted. Both files are copied whole into a new
    `<model_dir>/abandoned-attempt-<n>/`; the files in place keep the rows up
    to `epochs_done`, which the checkpoint continues. `best.keras` moves there
    too when its epoch (the best on validation `selection_metric`) is one of
    the lost ones.

    Returns:
      The folder the files went to, or None when no row was past `epochs_done`.
    """
    paths = [os.path.join(model_dir, name) for name in (run_directory.METRICS, run_directory.RUN_LOG)]
    rows = [run_directory.read_jsonl(p) for p in paths]
    if all(r["epoch"] <= epochs_done for file_rows in rows for r in file_rows):
        return None
    n = 1
    while os.path.exists(os.path.join(model_dir, f"{run_directory.ABANDONED_PREFIX}{n}")):
        n += 1
    folder = os.path.join(model_dir, f"{run_directory.ABANDONED_PREFIX}{n}")
    tmp = f"{folder}.tmp-{os.getpid()}"
    os.makedirs(tmp)
    for path, file_rows in zip(paths, rows):
        if file_rows:
            run_directory.write_jsonl_atomic(os.path.join(tmp, os.path.basename(path)), file_rows)
    os.rename(tmp, folder)  # the copies appear complete or not at all
    for path, file_rows in zip(paths, rows):
        if file_rows:
            run_directory.write_jsonl_atomic(path, [r for r in file_rows if r["epoch"] <= epochs_done])
    best = os.path.join(model_dir, run_directory.BEST_MODEL)
    if os.path.exists(best) and rows[0] and select(rows[0], selection_metric)["epoch"] > epochs_done:
        os.replace(best, os.path.join(folder, run_directory.BEST_MODEL))
    return folder
