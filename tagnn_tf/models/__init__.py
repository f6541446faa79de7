"""TAGNN and the neural baselines (`build_model` builds any neural `--model`; `tagnn_tf.model_registry`)."""

from tagnn_tf.models.model_builder import build_model, load_run, needs_click_alias
from tagnn_tf.models.sequence_models import BPRMF, FPMC, GRU4Rec, NARM, STAMP
from tagnn_tf.models.tagnn import TAGNN

__all__ = ["BPRMF", "FPMC", "GRU4Rec", "NARM", "STAMP", "TAGNN", "build_model", "load_run", "needs_click_alias"]
