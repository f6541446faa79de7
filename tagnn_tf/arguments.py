"""Argument checks and the named choices of the layers and configs.

A leaf module (no TensorFlow, no run configuration), so that layers, configs
and binaries validate arguments the same way. Messages follow Keras:
"`name` must be ... Received: name=value".
"""

from __future__ import annotations

from typing import Any

from tagnn_tf.errors import InputError

# The `--model` names and what each can do: `tagnn_tf.model_registry`.
# Session readout of Fig. 2: target + local + global, local, average, attention, local + attention (SR-GNN).
VARIANTS = ("tagnn", "local", "avg", "att", "local_att")
# eq. 10's form for `tagnn`: the paper's W3 [s_target; s_local; s_global], or the official code's.
READOUTS = ("paper", "official")
# eq. 9's weights: unnormalised (paper) or a softmax (official code).
GLOBAL_ATTENTIONS = ("none", "softmax")
# Padded positions: excluded from every softmax, or inside them as in the official code.
PADDINGS = ("masked", "official")
# How `TAGNN` computes its scores (the same numbers in every mode):
#   train: sorted segment max (fastest on CPU) and separate GEMMs for base
#     scores, keys and values;
#   serve: unsorted segment max (a TFLite builtin) and one stacked
#     `[B + 2T, d] x [d, N]` GEMM, a single pass over the candidate table;
#   tflite: unsorted segment max and separate GEMMs (TFLite copies every slice
#     of a stacked product).
SCORING_MODES = ("train", "serve", "tflite")
# How a neural model treats the items already in the session (tagnn_tf.layers.repeat_scores):
#   none: the paper's model; boost: the trained model's scores plus
#   `a * log(1 + clicks)` on the session's items, `a` picked on validation
#   (a post-hoc baseline); repeat_explore: a learned repeat score per session
#   item, gated per session (RepeatNet-style, added in logit space).
REPEAT_MECHANISMS = ("none", "boost", "repeat_explore")
# ModelConfig.repeat_gate: what the repeat-explore gate reads (`tagnn_tf.layers.repeat_scores`).
REPEAT_GATES = ("session", "history")
# ModelConfig.repeat_floor: `none`, or `validated` (the repeat distribution's floor picked on validation
# after each epoch from `layers.repeat_scores.REPEAT_FLOORS`).
REPEAT_FLOOR_MODES = ("none", "validated")
# What `trainers.preprocess` writes: session shards (Parquet, `tagnn_tf.data.session_shards`) or the
# SR-GNN pickles.
DATASET_OUTPUTS = ("shards", "pickles")
# How the trainer reads a dataset: every example in memory, or streamed from the session shards
# (`tagnn_tf.data.session_stream`), prefixes cut on the fly.
INPUT_PIPELINES = ("memory", "stream")
# How validation examples are held out (tagnn_tf.data.sessions.split_validation).
VALID_SPLITS = ("examples", "sessions", "time")

# TrainConfig: the learning-rate schedule, the loss, the candidates of the training softmax (the whole
# catalogue, or the batch's labels plus shared sampled negatives), how negatives are drawn, and whether
# embedding rows without a gradient keep their Adam state (lazy) or not (dense).
LR_SCHEDULES = ("paper", "official", "plateau", "linear", "validated")
LOSSES = ("cross_entropy", "bpr")
TRAIN_CANDIDATES = ("full", "sampled")
NEGATIVE_SAMPLING = ("uniform", "popularity")
EMBEDDING_UPDATES = ("lazy", "dense")
METRIC_NAMES = ("hr@10", "hr@20", "mrr@10", "mrr@20")
# DistributeConfig.strategy.
STRATEGIES = ("default", "mirrored", "multi_worker")
# BaselineConfig: SR's weight of a rule's distance, and what a fitted baseline is fitted on.
RULE_WEIGHTINGS = ("div", "linear", "same")
FIT_ON = ("train", "train_and_valid")

# The config fields with a fixed set of values, by field name (the binaries define them with
# `flags.DEFINE_enum`, so `--help` lists the values; `model` is `tagnn_tf.model_registry.MODELS`).
FIELD_CHOICES = {
    "input_pipeline": INPUT_PIPELINES,
    "variant": VARIANTS, "readout": READOUTS, "global_attention": GLOBAL_ATTENTIONS, "padding": PADDINGS,
    "repeat_mechanism": REPEAT_MECHANISMS, "repeat_gate": REPEAT_GATES,
    "repeat_floor": REPEAT_FLOOR_MODES, "valid_split": VALID_SPLITS,
    "lr_schedule": LR_SCHEDULES,
    "loss": LOSSES, "selection_metric": METRIC_NAMES, "train_candidates": TRAIN_CANDIDATES,
    "negative_sampling": NEGATIVE_SAMPLING, "embedding_updates": EMBEDDING_UPDATES, "strategy": STRATEGIES,
    "rule_weighting": RULE_WEIGHTINGS, "fit_on": FIT_ON,
}


def check_choice(name: str, value: Any, choices) -> None:
    if value not in choices:
        raise InputError(f"`{name}` must be one of {list(choices)}. Received: {name}={value!r}")


def check_positive(name: str, value: Any, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
        value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(f"`{name}` must be {bound}. Received: {name}={value!r}")
