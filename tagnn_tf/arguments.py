"""Argument checks and the named choices of the layers and configs.

A leaf module (no TensorFlow, no run configuration), so that layers, configs
and binaries validate arguments the same way. Messages follow Keras:
"`name` must be ... Received: name=value".
"""

from __future__ import annotations

from typing import Any

from tagnn_tf.errors import InputError

# Models of `--model`: TAGNN and the paper's neural baselines (Keras, trained by
# the trainer, exported like TAGNN; `srgnn` is TAGNN's `local_att` variant) ...
NEURAL_MODELS = ("tagnn", "srgnn", "gru4rec", "narm", "stamp", "bpr_mf", "fpmc")
# ... and the non-neural baselines (tagnn_tf.baselines: fitted, not trained).
NON_NEURAL_MODELS = ("pop", "spop", "item_knn", "sknn", "vsknn", "stan", "vstan", "sr")
MODELS = NEURAL_MODELS + NON_NEURAL_MODELS
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
# How validation examples are held out (tagnn_tf.data.sessions.split_validation).
VALID_SPLITS = ("examples", "sessions", "time")


def check_choice(name: str, value: Any, choices) -> None:
    if value not in choices:
        raise InputError(f"`{name}` must be one of {list(choices)}. Received: {name}={value!r}")


def check_positive(name: str, value: Any, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
        value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(f"`{name}` must be {bound}. Received: {name}={value!r}")
