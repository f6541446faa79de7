"""TAGNN models."""

from tagnn_tf.models.tagnn import TAGNN, build_model

__all__ = ["TAGNN", "build_model"]
