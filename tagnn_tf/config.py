"""Frozen configuration dataclasses: the single home of every default.

Binaries map absl flags onto these; the trainer writes the resolved values as
JSON into the model directory (`config.json`).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Optional, Sequence

from tagnn_tf import model_registry
from tagnn_tf.arguments import (EMBEDDING_UPDATES, FIT_ON, GLOBAL_ATTENTIONS, INPUT_PIPELINES, LOSSES,
                                LR_SCHEDULES, METRIC_NAMES, NEGATIVE_SAMPLING, PADDINGS, READOUTS,
                                REPEAT_FLOOR_MODES, REPEAT_GATES, REPEAT_MECHANISMS, RULE_WEIGHTINGS, STRATEGIES,
                                TRAIN_CANDIDATES, VALID_SPLITS, VARIANTS, check_choice, check_positive)
from tagnn_tf.errors import InputError

# The default parent folder of the dataset folders (`DataConfig.data_dir`): the benchmark data beside the repo.
DEFAULT_DATA_DIR = "../shared/data"


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The model: TAGNN's architecture, or a baseline.

    The catalogue size is not here: it is a fact of the data
    (`DataConfig.num_items`), passed to `build_model` beside this config.

    Attributes:
      name: `tagnn_tf.arguments.MODELS` (flag `--model`): `tagnn`, a neural
        baseline (`srgnn`, `gru4rec`, `narm`, `stamp`, `bpr_mf`, `fpmc`; see
        `tagnn_tf.models`) or a non-neural one (`pop`, `spop`, `item_knn`,
        `sknn`, `vsknn`, `stan`, `vstan`, `sr`; `BaselineConfig`). `srgnn`
        is TAGNN with `variant="local_att"` (the variant is set to it).
      hidden_size: d, embedding and node-vector width (paper: 100).
      gnn_steps: T, gated-graph propagation steps (paper: 1).
      variant: readout of Fig. 2: `tagnn` (target + local + global), `local`
        (L), `avg` (Avg), `att` (Att), `local_att` (L+Att, SR-GNN).
      readout: eq. 10 form for `tagnn`: `paper` = W3 [s_target; s_local;
        s_global]; `official` = W [s_global; s_local] + b + s_target.
      global_attention: eq. 9 weights: `none` (paper, unnormalised) or
        `softmax` (official code, here with padding masked out).
      padding: `masked` (padded positions take no part in any softmax) or
        `official`, a diagnostic that copies the official code's defect: every
        session is padded to the longest session of its split (the
        `padded_length` input) and the padded positions enter the target
        attention softmax (eq. 6) with logit 0 and the global softmax (eq. 9,
        `global_attention="softmax"`) with the logit of the padding item's
        node, both with value 0. Not exportable.
      repeat_mechanism: how the session's own items are scored
        (`tagnn_tf.layers.repeat_scores`): `none` (the paper's model),
        `boost` (post-hoc: plus `a * log(1 + clicks in the session)`, `a`
        picked on validation after each epoch from `BOOST_WEIGHTS`) or
        `repeat_explore` (RepeatNet's mixture: a per-session gate between a
        distribution over the session's items and the model's own softmax).
        Neural models only, with `padding="masked"`. This dataclass keeps the
        paper's model (`none`) as its default; `trainers.train` defaults to
        `TRAINER_REPEAT_MECHANISM` for the neural models (measured:
        docs/repeat_heavy_logs.md).
      item_norm_scale: c. 0 (the paper): the item vectors are read as
        learned. c > 0 (NISER, Gupta et al. 2019; TAGNN and SR-GNN): each item
        vector is L2-normalised where it is read, to length 1 as a node's
        input and to length c as a candidate (the scores' scale). Measured in
        docs/repeat_heavy_logs.md ("Small logs").
      repeat_gate: what the repeat-explore gate reads
        (`tagnn_tf.layers.repeat_scores`): `session` (RepeatNet: the session
        vector) or `history` (also the session's repeat history: its clicks
        and the share of them that went back to an earlier item). Only with
        `repeat_mechanism="repeat_explore"`. This dataclass keeps `session`;
        `trainers.train` defaults to `TRAINER_REPEAT_GATE` for a new run.
      repeat_floor: `none`, or `validated`: after each epoch the trainer
        picks the floor `e` of the repeat distribution, `(1 - e) softmax(ρ)
        + e clicks_u / clicks` (`tagnn_tf.layers.repeat_scores`), from
        `REPEAT_FLOORS` on the validation `selection_metric` (0 on a tie),
        as `boost` picks its weight; scoring only, the training loss is
        unchanged. Only with `repeat_mechanism="repeat_explore"`. This
        dataclass keeps `none`; `trainers.train` defaults to
        `TRAINER_REPEAT_FLOOR` for a new run.
    """

    name: str = "tagnn"
    hidden_size: int = 100
    gnn_steps: int = 1
    variant: str = "tagnn"
    readout: str = "official"
    global_attention: str = "softmax"
    padding: str = "masked"
    repeat_mechanism: str = "none"
    item_norm_scale: float = 0.0
    repeat_gate: str = "session"
    repeat_floor: str = "none"

    def __post_init__(self):
        spec = model_registry.get(self.name)
        check_choice("repeat_mechanism", self.repeat_mechanism, REPEAT_MECHANISMS)
        if self.repeat_mechanism != "none":
            if not spec.supports("repeat_mechanism"):
                supported = model_registry.names_with("repeat_mechanism")
                raise InputError(f"`--repeat_mechanism` applies to the neural models {supported}; "
                                 f"`--model={self.name}` scores the session's items its own way. Received: "
                                 f"repeat_mechanism={self.repeat_mechanism!r}")
            if self.padding != "masked":
                raise InputError("`--repeat_mechanism` needs padding='masked' (padding='official' is a training "
                                 f"diagnostic). Received: repeat_mechanism={self.repeat_mechanism!r}, "
                                 f"padding={self.padding!r}")
        if self.padding != "masked" and not spec.supports("official_padding"):
            raise InputError(f"`padding='official'` copies the official TAGNN code's padding; "
                             f"`--model={self.name}` has no such option. Received: padding={self.padding!r}")
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        for name, value in spec.fixed.items():  # e.g. `srgnn` is TAGNN's `local_att` variant
            if getattr(self, name) not in (defaults[name], value):
                raise InputError(f"`--model={self.name}` sets {name}={value!r}; leave `{name}` unset. Received: "
                                 f"{name}={getattr(self, name)!r}")
            object.__setattr__(self, name, value)
        check_positive("hidden_size", self.hidden_size)
        check_positive("gnn_steps", self.gnn_steps)
        if not self.item_norm_scale >= 0:
            raise InputError(f"`item_norm_scale` must be >= 0 (0: item vectors as learned). "
                             f"Received: item_norm_scale={self.item_norm_scale!r}")
        check_choice("variant", self.variant, VARIANTS)
        check_choice("readout", self.readout, READOUTS)
        check_choice("global_attention", self.global_attention, GLOBAL_ATTENTIONS)
        check_choice("padding", self.padding, PADDINGS)
        check_choice("repeat_gate", self.repeat_gate, REPEAT_GATES)
        if self.repeat_gate != "session" and self.repeat_mechanism != "repeat_explore" and "repeat_gate" in spec.fields:
            raise InputError(f"`--repeat_gate` is the gate of --repeat_mechanism=repeat_explore. Received: "
                             f"repeat_gate={self.repeat_gate!r}, repeat_mechanism={self.repeat_mechanism!r}")
        check_choice("repeat_floor", self.repeat_floor, REPEAT_FLOOR_MODES)
        if (self.repeat_floor != "none" and self.repeat_mechanism != "repeat_explore"
                and "repeat_floor" in spec.fields):
            raise InputError(f"`--repeat_floor` is the floor of --repeat_mechanism=repeat_explore's repeat "
                             f"distribution. Received: repeat_floor={self.repeat_floor!r}, "
                             f"repeat_mechanism={self.repeat_mechanism!r}")


@dataclasses.dataclass(frozen=True)
class BaselineConfig:
    """Hyper-parameters of the non-neural baselines (`tagnn_tf.baselines`); each method reads its own.

    Defaults are the reference implementations' (session-rec; STAN's paper).

    Attributes:
      neighbours: k of SKNN, V-SKNN, STAN, VSTAN.
      sample_size: the most recent training sessions sharing an item with the
        current one that are considered as neighbours; 0 = all.
      position_lambda: STAN/VSTAN lambda1 (current-session recency, clicks).
      recency_lambda: STAN/VSTAN lambda2 (neighbour-session age, as a
        fraction of the training sessions); 0 = off.
      match_lambda: STAN/VSTAN lambda3 (distance to the match inside a
        neighbour, clicks); 0 = off.
      idf_lambda: V-SKNN/VSTAN exponent of a scored item's IDF; 0 = off.
      shrink: Item-KNN's cosine shrinkage.
      rule_steps: SR's largest distance between a rule's two clicks.
      rule_weighting: SR's weight of a distance d: `div` 1/d, `linear`,
        `same`.
      fit_on: `train` (the training part of the validation split) or
        `train_and_valid` (all training sessions: the final fit of a tuned
        configuration, whose validation metrics then come from tuning).
      score_batch_size: sessions scored at once (bounds the `[batch, N]`
        scores and the `[batch, training sessions]` similarities).
    """

    neighbours: int = 100
    sample_size: int = 1000
    position_lambda: float = 1.02
    recency_lambda: float = 0.0
    match_lambda: float = 2.05
    idf_lambda: float = 0.0
    shrink: float = 20.0
    rule_steps: int = 10
    rule_weighting: str = "div"
    fit_on: str = "train"
    score_batch_size: int = 256

    def __post_init__(self):
        check_positive("neighbours", self.neighbours)
        check_positive("sample_size", self.sample_size, allow_zero=True)
        check_positive("position_lambda", self.position_lambda)
        for name in ("recency_lambda", "match_lambda", "idf_lambda", "shrink"):
            check_positive(name, getattr(self, name), allow_zero=True)
        check_positive("rule_steps", self.rule_steps)
        check_choice("rule_weighting", self.rule_weighting, RULE_WEIGHTINGS)
        check_choice("fit_on", self.fit_on, FIT_ON)
        check_positive("score_batch_size", self.score_batch_size)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where examples come from and how they are split.

    Attributes:
      dataset: `synthetic` (built-in generator) or the name of a folder under
        `data_dir` holding the SR-GNN files (`diginetica`, `yoochoose1_64`, ...).
      data_dir: parent folder of the dataset folders.
      valid_portion: share of training examples held out for model selection.
      valid_split: how they are chosen (`tagnn_tf.data.sessions.
        split_validation`): `examples` (SR-GNN's: a random share of the
        examples; the paper reproduction), `sessions` (whole sessions at
        random) or `time` (the most recent sessions).
      split_seed: seed of the validation split.
      num_items: catalogue size N (item ids 1..N; 0 is padding), the single
        home of this fact. 0 = derive from the data (its largest id); a value
        below the largest id in the data is an error. The trainer writes the
        resolved size into the run's `config.json`.
      input_pipeline: `memory` (every example in memory; any dataset) or
        `stream` (the session shards read shard by shard, prefixes cut on
        the fly: memory independent of the data size;
        `tagnn_tf.data.session_stream`). Streamed, the `examples` and
        `sessions` validation splits draw by a seeded hash of each example
        or session instead of a permutation (the same share, another draw);
        `time` holds out the same sessions as in memory.
      stream_block_shards: `stream`: shards read, shuffled and batched
        together (the shuffle window; memory grows with it).
      synthetic_*: parameters of the built-in generator
        (`tagnn_tf.data.synthetic`); `synthetic_repeat_share` is the share of
        next clicks that repeat an item already in the session (0 = the
        generator's own rate, a few per cent).
    """

    dataset: str = "synthetic"
    data_dir: str = DEFAULT_DATA_DIR
    valid_portion: float = 0.1
    valid_split: str = "examples"
    split_seed: int = 2020
    num_items: int = 0
    input_pipeline: str = "memory"
    stream_block_shards: int = 4
    synthetic_num_items: int = 1000
    synthetic_num_sessions: int = 12000
    synthetic_seed: int = 7
    synthetic_repeat_share: float = 0.0

    def __post_init__(self):
        if not self.dataset:
            raise InputError("`dataset` must be a non-empty name. Received: dataset=''")
        if not 0.0 < self.valid_portion < 1.0:
            raise InputError(
                f"`valid_portion` must be in (0, 1). Received: valid_portion={self.valid_portion!r}")
        check_choice("valid_split", self.valid_split, VALID_SPLITS)
        check_choice("input_pipeline", self.input_pipeline, INPUT_PIPELINES)
        check_positive("stream_block_shards", self.stream_block_shards)
        check_positive("num_items", self.num_items, allow_zero=True)
        check_positive("synthetic_num_items", self.synthetic_num_items)
        check_positive("synthetic_num_sessions", self.synthetic_num_sessions)
        if not 0.0 <= self.synthetic_repeat_share < 1.0:
            raise InputError("`synthetic_repeat_share` must be in [0, 1). Received: "
                             f"synthetic_repeat_share={self.synthetic_repeat_share!r}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation and model selection (defaults: paper / official code).

    Attributes:
      batch_size: global batch size (paper: 100).
      epochs: maximum epochs.
      learning_rate: Adam base rate (1e-3).
      lr_decay_rate, lr_decay_epochs: step decay x0.1 every 3 epochs.
      lr_schedule: `paper` decays after epochs 3, 6, ...; `official` one epoch
        early (PyTorch `scheduler.step()` at the start of each epoch): 1e-3 for
        epochs 1-2, 1e-4 for 3-5, ...; `plateau` decays by `lr_decay_rate`
        after every epoch whose validation `selection_metric` is not above
        the best before it (Keras' ReduceLROnPlateau with patience 1; read
        from the run's metrics, so a resumed run decays as an uninterrupted
        one); `linear` falls linearly, batch by batch, from `learning_rate`
        to 0 at the end of epoch `epochs` (the budgeted-training schedule);
        `validated` keeps each of `official`'s decays only where validation
        prefers it: at a decision epoch the epoch is trained twice from the
        same checkpoint, at the current rate and at x`lr_decay_rate`, and the
        one with the better validation `selection_metric` is kept (a tie
        keeps the decay). The first decision is at epoch `lr_decay_epochs`;
        after a kept decay at epoch d the next is at d + `lr_decay_epochs`,
        after a declined one at the next epoch. If every decay is kept, the
        rates are `official`'s. Each decision costs one more epoch of
        training. `plateau` and `linear` ignore `lr_decay_epochs`, `linear`
        also `lr_decay_rate`. This dataclass keeps `official` as its
        default; `trainers.train` defaults to `TRAINER_LR_SCHEDULE`.
      l2: coupled L2 (PyTorch `weight_decay`): `l2 * w` is added to every
        gradient, embeddings included.
      loss: `cross_entropy` (softmax over the whole catalogue, the paper's)
        or `bpr` (pairwise, one uniform negative per example; BPR-MF's and
        FPMC's own loss).
      patience: early-stopping patience in epochs on `selection_metric`
        measured on the validation split.
      selection_metric: one of hr@10, hr@20, mrr@10, mrr@20.
      seed: seed of initialisation and shuffling.
      eval_batch_size: largest batch for evaluation.
      eval_max_clicks: cap on the clicks in one evaluation batch (bounds the
        memory of the `[nodes, num_items]` scores); 0 = no cap.
      shuffle_window_batches: sessions are shuffled, then sorted by length
        inside windows of this many batches so that a batch pads to its own
        longest session; 1 disables bucketing.
      steps_per_epoch: 0 = a full pass; otherwise stop each epoch after this
        many steps (short runs, smoke tests).
      micro_batches: compute each batch's gradient in this many slices of
        sessions and sum them (same gradient, smaller temporaries).
      max_eval_examples: 0 = all; otherwise evaluate only this many examples
        (short runs).
      stream_eval_examples: `input_pipeline="stream"` with
        `max_eval_examples=0`: each epoch scores at most this many validation
        and this many test examples (the first in shard order, the same
        every epoch; 0 = all), so an epoch's evaluation is bounded whatever
        the log's size. The selected model's `test_ranks.npz` covers the
        same test examples; `trainers.evaluate` scores every example.
      checkpoint_every_steps: also checkpoint inside an epoch every this many
        batches (0 = at epoch ends only); a rerun resumes after the last saved
        batch and trains exactly as an uninterrupted run. Not part of the
        configuration a resumed run must match.
      train_candidates: `full` scores every item for the softmax (the
        paper's); `sampled` scores each batch's labels plus `num_negatives`
        negatives shared by the batch, drawn by `negative_sampling`
        (`uniform`, or `popularity`: in proportion to 1 + the item's count
        as a training label), with the logQ correction (subtract the log of
        each candidate's expected share of the candidate set) and
        accidental hits (a candidate equal to the row's label) removed. The
        target attention then runs over those candidates only. Evaluation
        always ranks the whole catalogue.
      num_negatives: shared negatives per batch (`sampled`).
      negative_sampling: `uniform` or `popularity` (`sampled`).
      embedding_updates: `lazy`: an embedding row's Adam moments and value
        change only in steps where it has a gradient (sparse gradients of
        `sampled`; with `full` every row has one each step, so both are the
        same); `dense`: Adam's update of every row every step.
      warm_start_from: a finished run directory whose weights initialise this
        run (items matched by raw id; `tagnn_tf.training.warm_start`); "" = a
        fresh initialisation. Used when the run starts, not when it resumes.
    """

    batch_size: int = 100
    epochs: int = 10
    learning_rate: float = 1e-3
    lr_decay_rate: float = 0.1
    lr_decay_epochs: int = 3
    lr_schedule: str = "official"
    l2: float = 1e-5
    loss: str = "cross_entropy"
    patience: int = 3
    selection_metric: str = "hr@20"
    seed: int = 2020
    eval_batch_size: int = 500
    eval_max_clicks: int = 2000
    shuffle_window_batches: int = 20
    steps_per_epoch: int = 0
    micro_batches: int = 1
    max_eval_examples: int = 0
    stream_eval_examples: int = 500_000
    checkpoint_every_steps: int = 1000
    warm_start_from: str = ""
    train_candidates: str = "full"
    num_negatives: int = 2000
    negative_sampling: str = "popularity"
    embedding_updates: str = "lazy"

    def __post_init__(self):
        check_positive("batch_size", self.batch_size)
        check_positive("epochs", self.epochs)
        check_positive("learning_rate", self.learning_rate)
        check_positive("lr_decay_rate", self.lr_decay_rate)
        check_positive("lr_decay_epochs", self.lr_decay_epochs)
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_positive("l2", self.l2, allow_zero=True)
        check_choice("loss", self.loss, LOSSES)
        check_positive("patience", self.patience)
        check_choice("selection_metric", self.selection_metric, METRIC_NAMES)
        check_positive("eval_batch_size", self.eval_batch_size)
        check_positive("eval_max_clicks", self.eval_max_clicks, allow_zero=True)
        check_positive("shuffle_window_batches", self.shuffle_window_batches)
        check_positive("steps_per_epoch", self.steps_per_epoch, allow_zero=True)
        check_positive("micro_batches", self.micro_batches)
        check_positive("max_eval_examples", self.max_eval_examples, allow_zero=True)
        check_positive("stream_eval_examples", self.stream_eval_examples, allow_zero=True)
        check_positive("checkpoint_every_steps", self.checkpoint_every_steps, allow_zero=True)
        check_choice("train_candidates", self.train_candidates, TRAIN_CANDIDATES)
        check_positive("num_negatives", self.num_negatives)
        check_choice("negative_sampling", self.negative_sampling, NEGATIVE_SAMPLING)
        check_choice("embedding_updates", self.embedding_updates, EMBEDDING_UPDATES)
        if self.train_candidates == "sampled" and self.loss != "cross_entropy":
            raise InputError("`train_candidates='sampled'` is a sampled softmax; it needs loss='cross_entropy'. "
                             f"Received: loss={self.loss!r}")

    def learning_rate_at(self, epoch: int, done: float = 0.0, valid_history: Sequence[float] = (),
                         choices: Sequence[Optional[str]] = ()) -> float:
        """Learning rate of 1-based `epoch` once the share `done` (in [0, 1)) of its batches is trained.

        `valid_history`: the validation `selection_metric` of epochs 1 to `epoch - 1` (`plateau` only).
        `choices` (`validated` only): each earlier epoch's decision, `"decay"`, `"hold"` or None (no
        decision); the rate is the one before `epoch`'s own decision (`lr_decision_at`), if it has one.
        """
        if self.lr_schedule == "validated":
            return self.learning_rate * self.lr_decay_rate ** sum(c == "decay" for c in choices[:epoch - 1])
        if self.lr_schedule == "linear":
            return self.learning_rate * max(1.0 - (epoch - 1 + done) / self.epochs, 0.0)
        if self.lr_schedule == "plateau":
            if len(valid_history) < epoch - 1:
                raise InputError(f"lr_schedule='plateau' needs the validation metric of every epoch before epoch "
                                 f"{epoch}. Received: {len(valid_history)} values")
            decays = sum(valid_history[i] <= max(valid_history[:i]) for i in range(1, epoch - 1))
            return self.learning_rate * self.lr_decay_rate ** decays
        offset = 1 if self.lr_schedule == "official" else 0
        return self.learning_rate * self.lr_decay_rate ** ((epoch - 1 + offset) // self.lr_decay_epochs)

    def lr_decision_at(self, epoch: int, choices: Sequence[Optional[str]] = ()) -> bool:
        """Whether `validated` decides between the current rate and a decay at 1-based `epoch`.

        `choices`: as in `learning_rate_at`. A decision is due `lr_decay_epochs`
        epochs after the last kept decay (after the start, without one), and
        at every epoch after that until a decay is kept.
        """
        if self.lr_schedule != "validated":
            return False
        last_decay = max((i + 1 for i, c in enumerate(choices[:epoch - 1]) if c == "decay"), default=0)
        return epoch >= last_decay + self.lr_decay_epochs


@dataclasses.dataclass(frozen=True)
class DistributeConfig:
    """How training is spread over devices and hosts.

    Not part of `ExperimentConfig`: a run may resume under another strategy
    (the global batch, and so the computation, does not depend on it). Each
    (re)start's strategy and replica count are recorded in `run_info.json`.

    Attributes:
      strategy: `default` (one device), `mirrored` (all local GPUs, or
        `num_devices` of them), `multi_worker` (MultiWorkerMirroredStrategy;
        the cluster comes from the `TF_CONFIG` environment variable).
      num_devices: `mirrored` only: number of GPUs (0 = all). On a host
        without GPUs, a value > 1 splits the CPU into that many logical
        devices (for tests and benchmarks).
    """

    strategy: str = "default"
    num_devices: int = 0

    def __post_init__(self):
        check_choice("strategy", self.strategy, STRATEGIES)
        check_positive("num_devices", self.num_devices, allow_zero=True)


@dataclasses.dataclass(frozen=True)
class ClickLogConfig:
    """How a raw click log becomes session data (`tagnn_tf.data.click_log`).

    Attributes:
      session_column, item_column, time_column: column names (a header is
        required in CSV/TSV files).
      order_column: optional numeric column ordering the clicks of a session
        whose time is only a day ("" = none).
      time_format: `unix_seconds`, `unix_milliseconds` or a strptime pattern
        such as `%Y-%m-%d` (read as UTC).
      delimiter: CSV delimiter; "" = detect among , ; tab |.
      test_days: the sessions of the last `test_days` days (by their last
        click) form the test set (reference: 7 on Diginetica, 1 on Yoochoose).
      min_item_count: items clicked fewer times are dropped (reference: 5).
      min_session_length: shorter sessions are dropped (reference: 2).
      max_session_length: keep each session's most recent clicks; 0 = all.
        Default 200 (the longest session of Diginetica is 70 clicks, of
        Yoochoose 1/64 146): the test file holds every prefix of a test
        session, so its size grows with the square of the session's length
        (a 20,000-click session alone: 1.7 GB while preprocessing). The
        report counts the clicks and sessions cut.
    """

    session_column: str = "session_id"
    item_column: str = "item_id"
    time_column: str = "timestamp"
    order_column: str = ""
    time_format: str = "unix_seconds"
    delimiter: str = ""
    test_days: float = 7.0
    min_item_count: int = 5
    min_session_length: int = 2
    max_session_length: int = 200

    def __post_init__(self):
        for name in ("session_column", "item_column", "time_column", "time_format"):
            if not getattr(self, name):
                raise InputError(f"`{name}` must be a non-empty string. Received: {name}=''")
        if len({self.session_column, self.item_column, self.time_column} | ({self.order_column} - {""})) < (
                4 if self.order_column else 3):
            raise InputError("The session, item, time (and order) columns must differ. Received: "
                             f"{self.session_column!r}, {self.item_column!r}, {self.time_column!r}, "
                             f"{self.order_column!r}")
        if self.delimiter and len(self.delimiter) != 1:
            raise InputError(f"`delimiter` must be one character. Received: delimiter={self.delimiter!r}")
        check_positive("test_days", self.test_days)
        check_positive("min_item_count", self.min_item_count)
        check_positive("min_session_length", self.min_session_length)
        check_positive("max_session_length", self.max_session_length, allow_zero=True)
        if self.max_session_length and self.max_session_length < self.min_session_length:
            raise InputError("`max_session_length` must be 0 or >= min_session_length. Received: "
                             f"max_session_length={self.max_session_length}")


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """How a trained run is exported (`export.export_savedmodel`, `tagnn_tf.serving.savedmodel_export`).

    Attributes:
      max_session_length: requests keep their most recent this-many clicks;
        0 = the longest training session of the run's data.
      k: recommendations returned by `serving_default`.
      max_batch_sessions: the TensorFlow signatures score requests of more
        sessions in slices of this many, one at a time (bounds a request's
        working memory; benchmarks/README.md: slices of 16 also beat whole
        requests on throughput); 0 = whole requests.
      tflite_max_batch_sessions: the same for the graph converted to TFLite;
        0 by default: LiteRT runs a while loop's body outside the XNNPack
        delegate (measured: +12% batch-1 latency, -31% batch-256 throughput),
        so callers bound a request's memory by its batch.
      rerank_candidates: K > 0 adds the signatures `rerank_top_k` and
        `rerank_by_index` (exact scores of each session's K best items by the
        candidate-independent part of the score); 0 = exact signatures only.
      rerank_clusters: C > 0: the rerank signatures retrieve among the members
        of each session's `rerank_probe` best of C k-means clusters of the
        items (approximate, for millions of items); 0 = among all items.
      rerank_probe: clusters searched per session (with `rerank_clusters`).
    """

    max_session_length: int = 0
    k: int = 20
    max_batch_sessions: int = 16
    tflite_max_batch_sessions: int = 0
    rerank_candidates: int = 0
    rerank_clusters: int = 0
    rerank_probe: int = 16


# `trainers.train`'s repeat mechanism for the neural models when `--repeat_mechanism` is not given (with
# `--padding=masked`): not below the paper's model on Diginetica and Yoochoose 1/64 under the tuning
# protocol, far above it on repeat-heavy logs (docs/repeat_heavy_logs.md). ModelConfig keeps `none`.
TRAINER_REPEAT_MECHANISM = "repeat_explore"


# `trainers.train`'s learning-rate schedule when `--lr_schedule` is not given: the official code's decays, each
# kept only where validation prefers it. Not below the official schedule on Diginetica and Yoochoose 1/64,
# above it on the repeat-heavy synthetic log (docs/repeat_heavy_logs.md); TrainConfig keeps `official`.
TRAINER_LR_SCHEDULE = "validated"


# `trainers.train`'s repeat gate for a new run with `repeat_explore` when `--repeat_gate` is not given: not
# below RepeatNet's session gate on Diginetica and Yoochoose 1/64 under the tuning protocol (above it on
# MRR@20 on both, experiments.repeat_gate_default), above it on the synthetic repeat-heavy logs
# (docs/repeat_heavy_logs.md). ModelConfig keeps `session`.
TRAINER_REPEAT_GATE = "history"


# `trainers.train`'s repeat floor for a new run with `repeat_explore` when `--repeat_floor` is not given: above
# the history gate without it on HR@20 and MRR@20 on Diginetica and Yoochoose 1/64 under the tuning protocol
# (experiments.repeat_floor_default), and above the post-hoc boost on both metrics on the sparse synthetic
# shop-shaped log, where the mixture without it lost HR@20 to the boost (docs/repeat_heavy_logs.md).
# ModelConfig, the reproduction and the fair tuning keep `none`.
TRAINER_REPEAT_FLOOR = "validated"


def trainer_default_repeat(model_name: str, padding: str) -> str:
    """The repeat mechanism `trainers.train` uses when none is given."""
    supported = model_registry.get(model_name).supports("repeat_mechanism")
    return TRAINER_REPEAT_MECHANISM if supported and padding == "masked" else "none"


def fields_not_read(model_name: str):
    """The `section.field` names a `--model` never reads (so setting them is a mistake): the model
    settings outside its registry `fields` (all of them for a non-neural model), the baselines' settings
    for the neural models, and `--warm_start_from` where it has no warm start."""
    spec = model_registry.get(model_name)
    model_fields = spec.fields if spec.neural else ()
    unread = {f"model.{f.name}" for f in dataclasses.fields(ModelConfig) if f.name not in model_fields + ("name",)}
    if spec.neural:
        unread |= {f"baseline.{f.name}" for f in dataclasses.fields(BaselineConfig)}
    else:  # a neural model without warm start is refused by the trainer, with the reason
        unread.add("train.warm_start_from")
    return unread


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Everything a training run needs; written to `<model_dir>/config.json`."""

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    baseline: BaselineConfig = dataclasses.field(default_factory=BaselineConfig)

    def __post_init__(self):
        if self.model.repeat_mechanism == "repeat_explore" and self.train.loss != "cross_entropy":
            raise InputError("`--repeat_mechanism=repeat_explore` is trained with the softmax; it needs "
                             f"loss='cross_entropy'. Received: loss={self.train.loss!r}")
        if self.data.input_pipeline == "stream" and not model_registry.is_neural(self.model.name):
            raise InputError(f"`--input_pipeline=stream` trains the neural models; --model={self.model.name} is "
                             "fitted on every example in memory: use --input_pipeline=memory (it reads the shards "
                             "too)")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentConfig":
        if not isinstance(d, dict):
            raise InputError("expected a JSON object with sections model, data, train, baseline. Received: "
                             f"{type(d).__name__}")
        for section in ("model", "data", "train", "baseline"):
            if not isinstance(d.get(section, {}), dict):
                raise InputError(f"section `{section}` must be an object. Received: {d[section]!r}")
        model, data = dict(d.get("model", {})), dict(d.get("data", {}))
        # Runs written before the catalogue size had one home recorded it as
        # `model.num_items` (resolved) beside `data.num_items` (0 = derive).
        legacy = model.pop("num_items", None)
        if legacy is not None and not data.get("num_items"):
            data["num_items"] = legacy
        return cls(
            model=_from_fields(ModelConfig, model),
            data=_from_fields(DataConfig, data),
            train=_from_fields(TrainConfig, d.get("train", {})),
            baseline=_from_fields(BaselineConfig, d.get("baseline", {})),
        )


def _from_fields(klass, values: dict):
    names = {f.name for f in dataclasses.fields(klass)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise InputError(f"Unknown {klass.__name__} fields {unknown}. Known: {sorted(names)}")
    return klass(**values)


def replace_fields(obj, overrides: Optional[dict]):
    """`dataclasses.replace` that ignores None values (unset flags)."""
    if not overrides:
        return obj
    return dataclasses.replace(obj, **{k: v for k, v in overrides.items() if v is not None})
