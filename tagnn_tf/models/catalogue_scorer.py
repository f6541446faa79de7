"""The base class of the neural models: a session encoder that scores the whole catalogue.

`TAGNN` (and SR-GNN, its variant) and the sequence models (GRU4Rec, NARM,
STAMP, BPR-MF, FPMC) share one interface, used by the trainer, the sampled
softmax, the exporters and warm start:

- `call(inputs, candidates_t=None, scoring_mode="train", training=None)`:
  scores `[batch, num_items]` (the subclass encodes the session);
- `explore_and_repeat(inputs, candidates_t, training)`: the scores of shared
  candidates `[batch, C]` and the repeat layer's output (sampled training);
- `candidate_embeddings()` `[N + 1, w]`, `candidate_vectors(ids)` (some of its
  rows, without computing the others) and `candidate_table_t()` `[w, N]`;
- the repeat mechanism (`ModelConfig.repeat_mechanism`, `tagnn_tf.layers.
  repeat_scores`): its layer `repeat`, applied to the catalogue scores from the
  node vectors `[batch, U, w]` and the session vector `[batch, w']` the model
  has computed anyway;
- `build_weights()` (also on loading a saved model) and `warm_start_from`.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from tagnn_tf import item_ids
from tagnn_tf.arguments import REPEAT_FLOOR_MODES, REPEAT_GATES, REPEAT_MECHANISMS, check_choice, check_positive
from tagnn_tf.errors import InputError
from tagnn_tf.layers.repeat_scores import item_columns, make_repeat_layer, mixture_log_scores, scatter_to_columns
from tagnn_tf.layers.tensor_ops import gather_rows

REPEAT_INPUTS = ("items", "node_counts", "node_recency", "last_node")


class CatalogueScorer(keras.Model):
    """Base class: the catalogue size, width, seed, candidate table, repeat mechanism and weight building.

    Subclasses create their layers in `__init__` (then call `_init_repeat`)
    and implement `call`, `explore_and_repeat` and `example_inputs`.
    """

    # Whether the preprocessor must add the per-click `alias` and `click_mask` inputs.
    needs_click_alias = False

    def __init__(self, num_items: int, hidden_size: int, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_positive("num_items", num_items)
        check_positive("hidden_size", hidden_size)
        self.num_items, self.hidden_size, self.seed = num_items, hidden_size, seed

    def example_inputs(self) -> dict:
        """A minimal valid input batch for this model (`example_inputs` below)."""
        raise NotImplementedError

    def explore_and_repeat(self, inputs, candidates_t, training=None):
        """(`[batch, C]` scores of the shared candidates `candidates_t` `[w, C]` without the repeat term, the
        repeat layer's output): the two parts the repeat-explore loss trains
        (`tagnn_tf.training.sampled_softmax.repeat_explore_loss`)."""
        raise NotImplementedError

    def build_weights(self):
        """Creates every weight by scoring `example_inputs()` (also on loading a saved model)."""
        self(self.example_inputs())

    def build_from_config(self, config):
        self.build_weights()

    def candidate_embeddings(self):
        """The `[N + 1, w]` table whose row `item id` is that candidate's vector."""
        return self.embedding.embeddings

    def candidate_vectors(self, ids):
        """`[..., w]` the candidate vectors of the item ids `ids` (int `[...]`): rows of
        `candidate_embeddings()`, computed for those ids only (the sampled softmax's candidates)."""
        return gather_rows(self.candidate_embeddings(), ids)

    def candidate_table_t(self):
        """`[w, num_items]`: the candidates' vectors, transposed, in score-column order."""
        return ops.transpose(item_ids.candidate_rows(self.candidate_embeddings()))

    def warm_start_from(self, old, rows, old_rows) -> None:
        """Copies the trained `old` model (same class and weight shapes) into this one, the item rows
        `old_rows` of its tables into `rows` (items matched by the caller, `tagnn_tf.training.warm_start`).

        Raises:
          InputError: the model has no warm start (`tagnn_tf.model_registry`: option `warm_start`).
        """
        raise InputError(f"--warm_start_from is not implemented for {type(self).__name__}")

    def get_config(self):
        config = super().get_config()
        config.update({"num_items": self.num_items, "hidden_size": self.hidden_size, "seed": self.seed,
                       "repeat_mechanism": self.repeat_mechanism, "repeat_gate": self.repeat_gate,
                       "repeat_floor": self.repeat_floor})
        return config

    # The repeat mechanism.

    def _init_repeat(self, mechanism: str, seed=None, gate: str = "session", floor: str = "none") -> None:
        check_choice("repeat_mechanism", mechanism, REPEAT_MECHANISMS)
        check_choice("repeat_gate", gate, REPEAT_GATES)
        check_choice("repeat_floor", floor, REPEAT_FLOOR_MODES)
        if floor != "none" and mechanism != "repeat_explore":
            raise ValueError(f"`repeat_floor` is the repeat_explore mixture's. Received: repeat_floor={floor!r}, "
                             f"repeat_mechanism={mechanism!r}")
        # `repeat_floor` says whether the trainer picks the floor and the scores apply it; the layer always holds
        # the weight (0 when unpicked), so that any saved repeat-explore model loads.
        self.repeat_mechanism, self.repeat_gate, self.repeat_floor = mechanism, gate, floor
        self.repeat = make_repeat_layer(mechanism, self.hidden_size, seed, gate)

    def warm_start_repeat(self, old) -> None:
        """Copies `old`'s repeat layer into this one's when both have the same `repeat_mechanism`, weight by
        weight (a `repeat_gate` that `old` lacked keeps its fresh weights: the history's start at 0). The
        weights picked on validation (the boost's, the floor) stay 0: the new run picks its own."""
        if self.repeat is None or self.repeat_mechanism != old.repeat_mechanism:
            return
        old_weights = {w.path.split("/")[-1]: w for w in old.repeat.weights}
        for weight in self.repeat.trainable_weights:
            name = weight.path.split("/")[-1]
            if name in old_weights:
                weight.assign(old_weights[name])

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
        return ops.einsum("bw,buw->bu", session, self.candidate_vectors(inputs["items"]))

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
        return mixture_log_scores(scores, inputs["items"], *self.with_floor(repeat, inputs))

    def with_floor(self, repeat, inputs):
        """repeat-explore's (gate, node logits) for scoring: with `repeat_floor="validated"` the node logits
        with the layer's floor (`RepeatExplore.floored`; the training loss reads them without); unchanged
        otherwise (the graph has no floor operations)."""
        if self.repeat_floor == "none":
            return repeat
        gate, node_logits = repeat
        return gate, self.repeat.floored(node_logits, inputs["node_counts"])


def example_inputs(batch: int = 1, nodes: int = 2, padded_length: int = 0, with_click_alias: bool = False) -> dict:
    """A minimal valid input batch (used to build weights); `padded_length` > 0
    adds that input (`padding="official"`), `with_click_alias` the per-click
    `alias` and `click_mask` (one click per node)."""
    inputs = {
        "items": ops.ones((batch, nodes), "int32"),
        "node_counts": ops.ones((batch, nodes), "float32"),
        "adj_in": ops.zeros((batch, nodes, nodes), "float32"),
        "adj_out": ops.zeros((batch, nodes, nodes), "float32"),
        "last_node": ops.zeros((batch,), "int32"),
        "node_recency": ops.zeros((batch, nodes), "float32"),
    }
    if padded_length:
        inputs["padded_length"] = ops.full((batch,), padded_length, "int32")
    if with_click_alias:
        inputs["alias"] = ops.tile(ops.expand_dims(ops.arange(nodes, dtype="int32"), 0), (batch, 1))
        inputs["click_mask"] = ops.ones((batch, nodes), "float32")
    return inputs
