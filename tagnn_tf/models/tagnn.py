"""TAGNN: gated graph network + target attention, scoring the whole catalogue."""

from __future__ import annotations

import keras
from keras import ops

from tagnn_tf.config import ModelConfig
from tagnn_tf.layers.gated_graph import GatedGraphCell
from tagnn_tf.layers.initializers import uniform_init
from tagnn_tf.layers.session_readout import SessionReadout
from tagnn_tf.layers.target_attention import TargetAttention
from tagnn_tf.layers.tensor_ops import stacked_scoring

MODEL_INPUTS = ("items", "node_counts", "adj_in", "adj_out", "last_node")


@keras.saving.register_keras_serializable(package="tagnn_tf")
class TAGNN(keras.Model):
    """Target Attentive Graph Neural Network (Yu et al., SIGIR 2020).

    Inputs: the dict built by `tagnn_tf.data.session_graph.densify` (only
    `items`, `node_counts`, `adj_in`, `adj_out`, `last_node` are read):
      items `[batch, U]` int, node_counts `[batch, U]`, adj_in / adj_out
      `[batch, U, U]`, last_node `[batch]` int.

    With `padding="official"` (a diagnostic) it also reads `padded_length`
    `[batch]` int, the length every session is padded to (its split's longest
    session, as in the official code): the `padded_length - clicks` padded
    positions then take part in the target and global softmaxes.

    Output: logits `[batch, num_items]`; column i scores item id i + 1 (item 0
    is padding and never a candidate), eq. 11: `z_t = s_t^T v_t`.

    Args mirror `ModelConfig` (num_items, hidden_size, gnn_steps, variant,
    readout, global_attention, padding) plus an initializer `seed`.
    """

    def __init__(self, num_items: int, hidden_size: int = 100, gnn_steps: int = 1, variant: str = "tagnn",
                 readout: str = "official", global_attention: str = "softmax", padding: str = "masked",
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        # Validates every argument with a clear message.
        self.model_config = ModelConfig(num_items=num_items, hidden_size=hidden_size, gnn_steps=gnn_steps,
                                        variant=variant, readout=readout, global_attention=global_attention,
                                        padding=padding)
        self.seed = seed
        self.embedding = keras.layers.Embedding(num_items + 1, hidden_size,
                                                embeddings_initializer=uniform_init(hidden_size, seed),
                                                name="item_embedding")
        self.gnn = GatedGraphCell(hidden_size, gnn_steps, seed=seed, name="gated_graph")
        self.readout = SessionReadout(hidden_size, variant, readout, global_attention, seed=seed,
                                      name="session_readout")
        self.target_attention = None
        if variant == "tagnn":
            self.target_attention = TargetAttention(hidden_size, value_projection=(readout == "paper"),
                                                    seed=seed, name="target_attention")

    def call(self, inputs, candidates_t=None):
        """Scores `[batch, num_items]`.

        `candidates_t` optionally gives the `[hidden, num_items]` transpose of
        the item embeddings (rows 1..N) precomputed; exported serving
        signatures keep it as a frozen variable instead of transposing the
        table on every request. Training leaves it None.
        """
        official_padding = self.model_config.padding == "official"
        missing = [k for k in MODEL_INPUTS + (("padded_length",) if official_padding else ()) if k not in inputs]
        if missing:
            raise ValueError(f"TAGNN inputs lack {missing}. Received keys: {sorted(inputs)}")
        h = self.embedding(inputs["items"])
        nodes = self.gnn(h, inputs["adj_in"], inputs["adj_out"])
        counts = ops.cast(inputs["node_counts"], nodes.dtype)
        sink_counts = sink_node = None
        if official_padding:
            # Padded clicks per session, and the node vector of the padding
            # item 0 (a node without edges in the official code's graphs).
            sink_counts = ops.maximum(ops.cast(inputs["padded_length"], nodes.dtype) - ops.sum(counts, axis=1), 0.0)
            no_edges = ops.zeros((1, 1, 1), nodes.dtype)
            sink_node = self.gnn(self.embedding(ops.zeros((1, 1), "int32")), no_edges, no_edges)[0, 0]
        session = self.readout(nodes, counts, inputs["last_node"], sink_counts, sink_node)
        if candidates_t is None:
            candidates_t = ops.transpose(self.embedding.embeddings[1:])  # [hidden, N]
        if self.target_attention is None:
            return ops.matmul(session, candidates_t)
        if official_padding or not stacked_scoring():
            return ops.matmul(session, candidates_t) + self.target_attention(nodes, counts, candidates_t,
                                                                              sink_counts)
        # TF serving: one GEMM for the base scores, keys and values (one pass
        # over the [d, N] table, which dominates small requests).
        rows, keys, values, log_counts = self.target_attention.project(nodes, counts)
        batch, real = ops.shape(session)[0], ops.shape(keys)[0]
        stacked = ops.matmul(ops.concatenate([session, keys, values], axis=0), candidates_t)
        return stacked[:batch] + self.target_attention.attend(
            stacked[batch:batch + real], stacked[batch + real:], rows, log_counts, batch)

    def get_config(self):
        config = super().get_config()
        c = self.model_config
        config.update({"num_items": c.num_items, "hidden_size": c.hidden_size, "gnn_steps": c.gnn_steps,
                       "variant": c.variant, "readout": c.readout, "global_attention": c.global_attention,
                       "padding": c.padding, "seed": self.seed})
        return config


def build_model(config: ModelConfig, seed=None) -> TAGNN:
    """A TAGNN from its config, with weights built."""
    model = TAGNN(num_items=config.num_items, hidden_size=config.hidden_size, gnn_steps=config.gnn_steps,
                  variant=config.variant, readout=config.readout, global_attention=config.global_attention,
                  padding=config.padding, seed=seed)
    model(example_inputs(padded_length=3 if config.padding == "official" else 0))
    return model


def example_inputs(batch: int = 1, nodes: int = 2, padded_length: int = 0) -> dict:
    """A minimal valid input batch (used to build weights); `padded_length` > 0
    adds that input (`padding="official"`)."""
    inputs = {
        "items": ops.ones((batch, nodes), "int32"),
        "node_counts": ops.ones((batch, nodes), "float32"),
        "adj_in": ops.zeros((batch, nodes, nodes), "float32"),
        "adj_out": ops.zeros((batch, nodes, nodes), "float32"),
        "last_node": ops.zeros((batch,), "int32"),
    }
    if padded_length:
        inputs["padded_length"] = ops.full((batch,), padded_length, "int32")
    return inputs
