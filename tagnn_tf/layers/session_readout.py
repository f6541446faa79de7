"""Session readout: local, average and soft-attention global embeddings (eq. 8-10)."""

from __future__ import annotations

import keras
from keras import ops

from tagnn_tf.arguments import GLOBAL_ATTENTIONS, READOUTS, VARIANTS, check_choice, check_positive
from tagnn_tf.layers.initializers import uniform_init
from tagnn_tf.layers.tensor_ops import masked_log_weights, matmul_last


@keras.saving.register_keras_serializable(package="tagnn_tf")
class SessionReadout(keras.layers.Layer):
    """The target-independent part of the session vector, `[batch, hidden]`.

    With node vectors x_u, click counts c_u and last-click node n:
      local: `s_local = x_n`;
      avg: `Σ_u c_u x_u / Σ_u c_u` (mean over clicks);
      global (eq. 8-9): `α_u = q^T σ(W1 x_n + W2 x_u + c)`,
        `global_attention="none"` (paper): `s_global = Σ_u c_u α_u x_u`;
        `"softmax"` (official code, padding masked): weights
        `softmax_u(α_u + log c_u)`.
    Output by variant (Fig. 2): `local` -> s_local; `avg` -> mean; `att` ->
    s_global; `local_att` (SR-GNN) -> `W [s_local; s_global]`; `tagnn` with
    `readout="paper"` -> `[W3_local W3_global] [s_local; s_global]` (the
    target block of eq. 10's W3 lives in `TargetAttention`), with
    `readout="official"` -> `W_h [s_global; s_local] + b_h`.

    Call args:
      nodes: `[batch, U, hidden]`; node_counts: `[batch, U]`; last_node: `[batch]` int;
      sink_counts `[batch]`, sink_node `[hidden]`: optional padded clicks in the
        global softmax (see `global_embedding`).
    """

    def __init__(self, hidden_size: int, variant: str = "tagnn", readout: str = "official",
                 global_attention: str = "softmax", seed=None, **kwargs):
        super().__init__(**kwargs)
        check_positive("hidden_size", hidden_size)
        check_choice("variant", variant, VARIANTS)
        check_choice("readout", readout, READOUTS)
        check_choice("global_attention", global_attention, GLOBAL_ATTENTIONS)
        self.hidden_size = hidden_size
        self.variant = variant
        self.readout = readout
        self.global_attention = global_attention
        self.seed = seed

    @property
    def uses_global(self) -> bool:
        return self.variant in ("att", "local_att", "tagnn")

    def build(self, nodes_shape, node_counts_shape=None, last_node_shape=None):
        d = self.hidden_size
        init = uniform_init(d, self.seed)
        if self.uses_global:
            self.last_kernel = self.add_weight(name="last_kernel", shape=(d, d), initializer=init)  # W1
            self.last_bias = self.add_weight(name="last_bias", shape=(d,), initializer=init)  # c
            self.node_kernel = self.add_weight(name="node_kernel", shape=(d, d), initializer=init)  # W2
            self.query = self.add_weight(name="query", shape=(d, 1), initializer=init)  # q
        if self.variant in ("local_att", "tagnn"):
            self.combine_kernel = self.add_weight(name="combine_kernel", shape=(2 * d, d), initializer=init)
            if self.variant == "tagnn" and self.readout == "official":
                self.combine_bias = self.add_weight(name="combine_bias", shape=(d,), initializer=init)

    def global_embedding(self, nodes, node_counts, s_local, sink_counts=None, sink_node=None):
        """eq. 8-9; `[batch, hidden]`.

        `sink_counts` `[batch]` and `sink_node` `[hidden]` (softmax only): that
        many padded clicks, whose node vector is `sink_node`, take part in the
        softmax and add nothing to the sum (`ModelConfig.padding="official"`).
        """
        query = ops.expand_dims(ops.matmul(s_local, self.last_kernel) + self.last_bias, 1)  # [batch, 1, d]
        alpha = ops.squeeze(matmul_last(ops.sigmoid(query + matmul_last(nodes, self.node_kernel)), self.query), -1)
        if self.global_attention != "softmax":
            return ops.sum(ops.expand_dims(alpha * node_counts, -1) * nodes, axis=1)
        logits = alpha + masked_log_weights(node_counts, alpha.dtype)  # [batch, U]
        if sink_counts is None:
            weights = ops.softmax(logits, axis=1)
        else:
            sink_alpha = ops.matmul(ops.sigmoid(query[:, 0] + ops.matmul(sink_node, self.node_kernel)), self.query)
            sink_logit = sink_alpha + masked_log_weights(ops.expand_dims(sink_counts, -1), alpha.dtype)
            weights = ops.softmax(ops.concatenate([logits, sink_logit], axis=1), axis=1)[:, :-1]
        return ops.sum(ops.expand_dims(weights, -1) * nodes, axis=1)

    def call(self, nodes, node_counts, last_node, sink_counts=None, sink_node=None):
        last = ops.one_hot(ops.cast(last_node, "int32"), ops.shape(nodes)[1], dtype=nodes.dtype)
        s_local = ops.einsum("bu,bud->bd", last, nodes)
        if self.variant == "local":
            return s_local
        if self.variant == "avg":
            counts = ops.expand_dims(node_counts, -1)
            return ops.sum(counts * nodes, axis=1) / ops.maximum(ops.sum(counts, axis=1), 1.0)
        s_global = self.global_embedding(nodes, node_counts, s_local, sink_counts, sink_node)
        if self.variant == "att":
            return s_global
        if self.variant == "tagnn" and self.readout == "official":
            return ops.matmul(ops.concatenate([s_global, s_local], -1), self.combine_kernel) + self.combine_bias
        return ops.matmul(ops.concatenate([s_local, s_global], -1), self.combine_kernel)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_size": self.hidden_size, "variant": self.variant, "readout": self.readout,
                       "global_attention": self.global_attention, "seed": self.seed})
        return config
