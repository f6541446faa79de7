"""TAGNN and the neural baselines (`build_model` builds any `--model` that is a Keras model)."""

from tagnn_tf.models.registry import MODEL_CLASSES, build_model, needs_click_alias
from tagnn_tf.models.sequence_models import BPRMF, FPMC, GRU4Rec, NARM, STAMP
from tagnn_tf.models.tagnn import TAGNN

__all__ = ["BPRMF", "FPMC", "GRU4Rec", "MODEL_CLASSES", "NARM", "STAMP", "TAGNN", "build_model",
           "needs_click_alias"]
