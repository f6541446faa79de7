"""The repeat mechanism's part of a catalogue scorer (`ModelConfig.repeat_mechanism`).

A mixin for `TAGNN` and the sequence models: it owns the repeat layer
(`tagnn_tf.layers.repeat_scores`) and applies it to the model's catalogue
scores. The model supplies the node vectors `[batch, U, w]` and the session
vector `[batch, w']` it has computed anyway.
"""

from __future__ import annotations

import tensorflow as tf
from keras import ops

from tagnn_tf.arguments import REPEAT_MECHANISMS, check_choice
from tagnn_tf.layers.tensor_ops import gather_rows
from tagnn_tf.layers.repeat_scores import item_columns, make_repeat_layer, mixture_log_scores, scatter_to_columns

REPEAT_INPUTS = ("items", "node_counts", "node_recency", "last_node")


class RepeatAware:
    """Mixin: `repeat_mechanism`, its layer `repeat` (None for `none`) and the helpers the models call."""

    def _init_repeat(self, mechanism: str, seed=None) -> None:
        check_choice("repeat_mechanism", mechanism, REPEAT_MECHANISMS)
        self.repeat_mechanism = mechanism
        self.repeat = make_repeat_layer(mechanism, self.hidden_size, seed)

    def repeat_active(self, training=None) -> bool:
        """Whether the scores include the repeat mechanism: always with `repeat_explore`; with `boost`
        outside training only (its weight is picked after training; the model trains as the plain one)."""
        return self.repeat is not None and not (self.repeat_mechanism == "boost" and training)

    def repeat_scores(self, inputs, nodes, session, own_scores=None):
        """The repeat layer's output: `boost` r `[batch, U]`; `repeat_explore` (gate `[batch]`, node logits
        `[batch, U]`, which read the explore scores of the session's items, `own_item_scores`)."""
        missing = [k for k in REPEAT_INPUTS if k not in inputs]
        if missing:
            raise ValueError(f"The repeat mechanism reads {list(REPEAT_INPUTS)}; the inputs lack {missing}. "
                             f"Received keys: {sorted(inputs)}")
        own = None
        if self.repeat_mechanism == "repeat_explore":  # `own_scores`: already computed by the caller
            own = self.own_item_scores(inputs, nodes, session) if own_scores is None else own_scores
        # No gradient flows from the repeat layer into the encoder: the explore part trains as the plain model.
        return self.repeat(ops.stop_gradient(nodes), ops.stop_gradient(session), inputs["node_counts"],
                           inputs["node_recency"], inputs["last_node"], own)

    def own_item_scores(self, inputs, nodes, session):
        """`[batch, U]` explore scores of each session node's item (padding nodes: any finite value).

        The session vector times the item's candidate vector; TAGNN adds its target term."""
        return ops.einsum("bw,buw->bu", session, gather_rows(self.candidate_embeddings(), inputs["items"]))

    def add_repeat(self, scores, inputs, nodes, session, training=None):
        """The final `[batch, N]` scores from the explore scores of the whole catalogue: unchanged (`none`,
        or `boost` while training), plus the boost at the session's items (`boost`), or the mixture's log
        probabilities (`repeat_explore`)."""
        if not self.repeat_active(training):
            return scores
        # The session items' explore scores are columns of `scores`: gathered, not computed again.
        own = tf.gather(scores, ops.maximum(item_columns(inputs["items"]), 0), axis=1, batch_dims=1)
        repeat = self.repeat_scores(inputs, nodes, session, own)
        if self.repeat_mechanism == "boost":
            return scores + scatter_to_columns(repeat, inputs["items"], self.num_items)
        return mixture_log_scores(scores, inputs["items"], *repeat)
