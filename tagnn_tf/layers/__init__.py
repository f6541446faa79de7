"""Keras 3 layers of TAGNN."""

from tagnn_tf.layers.gated_graph import GatedGraphCell
from tagnn_tf.layers.session_preprocessor import SessionPreprocessor
from tagnn_tf.layers.session_readout import SessionReadout
from tagnn_tf.layers.target_attention import TargetAttention

__all__ = ["GatedGraphCell", "SessionPreprocessor", "SessionReadout", "TargetAttention"]
