"""Gated graph neural network cell over session graphs (paper eq. 1-5)."""

from __future__ import annotations

import keras
from keras import ops

from tagnn_tf.arguments import check_positive
from tagnn_tf.layers.initializers import uniform_init
from tagnn_tf.layers.tensor_ops import matmul_last


@keras.saving.register_keras_serializable(package="tagnn_tf")
class GatedGraphCell(keras.layers.Layer):
    """T steps of gated graph propagation (SR-GNN's GNN cell).

    Per step, with node vectors `h` `[batch, nodes, hidden]`:
      eq. 1: `m_in = A_in (h W_in + b_in) + b_iah`, `m_out = A_out (h W_out + b_out) + b_oah`;
      eq. 2-5 (GRU convention): `g_i = [m_in; m_out] W_ih + b_ih`,
      `g_h = h W_hh + b_hh`, `r = σ(g_i^r + g_h^r)`, `z = σ(g_i^z + g_h^z)`,
      `n = tanh(g_i^n + r ⊙ g_h^n)`, `h' = n + z ⊙ (h - n)`.

    Args:
      hidden_size: d.
      steps: T >= 1.
      seed: optional initializer seed.

    Call args:
      h: `[batch, nodes, hidden]` initial node vectors (item embeddings).
      adj_in: `[batch, nodes, nodes]` incoming adjacency, normalised by in-degree.
      adj_out: `[batch, nodes, nodes]` outgoing adjacency, normalised by out-degree.

    Returns:
      `[batch, nodes, hidden]` node vectors after T steps.
    """

    def __init__(self, hidden_size: int, steps: int = 1, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_positive("hidden_size", hidden_size)
        check_positive("steps", steps)
        self.hidden_size = hidden_size
        self.steps = steps
        self.seed = seed

    def build(self, h_shape, adj_in_shape=None, adj_out_shape=None):
        d = self.hidden_size
        if h_shape[-1] is not None and h_shape[-1] != d:
            raise ValueError(f"Node vectors must have width hidden_size={d}. Received: shape={h_shape}")
        init = uniform_init(d, self.seed)
        # Edge projections for in- and out-edges fused into one [d, 2d] kernel.
        self.edge_kernel = self.add_weight(name="edge_kernel", shape=(d, 2 * d), initializer=init)
        self.edge_bias = self.add_weight(name="edge_bias", shape=(2 * d,), initializer=init)
        self.message_bias = self.add_weight(name="message_bias", shape=(2 * d,), initializer=init)  # b_iah, b_oah
        self.input_kernel = self.add_weight(name="input_kernel", shape=(2 * d, 3 * d), initializer=init)
        self.input_bias = self.add_weight(name="input_bias", shape=(3 * d,), initializer=init)
        self.hidden_kernel = self.add_weight(name="hidden_kernel", shape=(d, 3 * d), initializer=init)
        self.hidden_bias = self.add_weight(name="hidden_bias", shape=(3 * d,), initializer=init)

    def _step(self, h, adj_in, adj_out):
        d = self.hidden_size
        edge = matmul_last(h, self.edge_kernel) + self.edge_bias
        m_in = ops.matmul(adj_in, edge[..., :d])
        m_out = ops.matmul(adj_out, edge[..., d:])
        messages = ops.concatenate([m_in, m_out], axis=-1) + self.message_bias
        gi = matmul_last(messages, self.input_kernel) + self.input_bias
        gh = matmul_last(h, self.hidden_kernel) + self.hidden_bias
        i_r, i_z, i_n = gi[..., :d], gi[..., d:2 * d], gi[..., 2 * d:]
        h_r, h_z, h_n = gh[..., :d], gh[..., d:2 * d], gh[..., 2 * d:]
        reset = ops.sigmoid(i_r + h_r)
        update = ops.sigmoid(i_z + h_z)
        new = ops.tanh(i_n + reset * h_n)
        return new + update * (h - new)

    def call(self, h, adj_in, adj_out):
        for _ in range(self.steps):
            h = self._step(h, adj_in, adj_out)
        return h

    def compute_output_shape(self, h_shape, adj_in_shape=None, adj_out_shape=None):
        return h_shape

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_size": self.hidden_size, "steps": self.steps, "seed": self.seed})
        return config
