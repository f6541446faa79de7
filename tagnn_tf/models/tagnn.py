"""TAGNN: gated graph network + target attention, scoring the whole catalogue."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from tagnn_tf import item_ids
from tagnn_tf.arguments import PADDINGS, SCORING_MODES, check_choice, check_positive
from tagnn_tf.errors import InputError
from tagnn_tf.layers.gated_graph import GatedGraphCell
from tagnn_tf.layers.initializers import uniform_init
from tagnn_tf.layers.repeat_scores import PADDING_LOGIT, item_columns, mixture_log_scores_at, node_values_at
from tagnn_tf.layers.session_readout import SessionReadout
from tagnn_tf.layers.target_attention import TargetAttention
from tagnn_tf.layers.tensor_ops import RowGatherEmbedding, gather_rows, unit_vectors
from tagnn_tf.models.catalogue_scorer import CatalogueScorer, example_inputs

MODEL_INPUTS = ("items", "node_counts", "adj_in", "adj_out", "last_node")


@keras.saving.register_keras_serializable(package="tagnn_tf")
class TAGNN(CatalogueScorer):
    """Target Attentive Graph Neural Network (Yu et al., SIGIR 2020).

    Inputs: the dict built by `tagnn_tf.layers.session_graph.densify` (only
    `items`, `node_counts`, `adj_in`, `adj_out`, `last_node` are read):
      items `[batch, U]` int, node_counts `[batch, U]`, adj_in / adj_out
      `[batch, U, U]`, last_node `[batch]` int.

    With `padding="official"` (a diagnostic) it also reads `padded_length`
    `[batch]` int, the length every session is padded to (its split's longest
    session, as in the official code): the `padded_length - clicks` padded
    positions then take part in the target and global softmaxes.

    Output: logits `[batch, num_items]` in the column order of
    `tagnn_tf.item_ids` (padding is never a candidate), eq. 11:
    `z_t = s_t^T v_t`.

    With a repeat mechanism (`repeat_mechanism`, `tagnn_tf.layers.
    repeat_scores`) the output is the repeat-explore mixture's log-probabilities
    `log P` (`repeat_explore`: the scores above are its explore part), or the
    scores plus the post-hoc boost at the session's items (`boost`); it reads
    `node_recency` `[batch, U]` too.

    With `item_norm_scale` c > 0 (`ModelConfig.item_norm_scale`; NISER, Gupta
    et al. 2019) every item vector is L2-normalised where it is read: a node's
    input `e_i / ||e_i||` (before the gated graph) and a candidate's
    `v_i = c e_i / ||e_i||` (eq. 6 and 11), so the scores stop growing with
    an item's popularity through the length of its vector.

    Args: `num_items` (the catalogue size N), the fields of `ModelConfig`
    (hidden_size, gnn_steps, variant, readout, global_attention, padding,
    repeat_mechanism, item_norm_scale, repeat_gate, repeat_floor) and an initializer `seed`.
    """

    def __init__(self, num_items: int, hidden_size: int = 100, gnn_steps: int = 1, variant: str = "tagnn",
                 readout: str = "official", global_attention: str = "softmax", padding: str = "masked",
                 repeat_mechanism: str = "none", item_norm_scale: float = 0.0, repeat_gate: str = "session",
                 repeat_floor: str = "none", seed=None, **kwargs):
        super().__init__(num_items, hidden_size, seed, **kwargs)
        if not item_norm_scale >= 0:
            raise ValueError(f"`item_norm_scale` must be >= 0 (0: item vectors as learned). "
                             f"Received: item_norm_scale={item_norm_scale!r}")
        self.item_norm_scale = float(item_norm_scale)
        # `variant`, `readout` and `global_attention` are checked by SessionReadout.
        check_positive("gnn_steps", gnn_steps)
        check_choice("padding", padding, PADDINGS)
        self.gnn_steps = gnn_steps
        self.variant = variant
        self.readout_form = readout
        self.global_attention = global_attention
        self.padding = padding
        # Row i embeds item id i; the rows before the first id are padding.
        self.embedding = RowGatherEmbedding(num_items + item_ids.FIRST_ITEM_ID, hidden_size,
                                                embeddings_initializer=uniform_init(hidden_size, seed),
                                                name="item_embedding")
        self.gnn = GatedGraphCell(hidden_size, gnn_steps, seed=seed, name="gated_graph")
        self.readout = SessionReadout(hidden_size, variant, readout, global_attention, seed=seed,
                                      name="session_readout")
        self.target_attention = None
        if variant == "tagnn":
            self.target_attention = TargetAttention(hidden_size, value_projection=(readout == "paper"),
                                                    seed=seed, name="target_attention")
        self._init_repeat(repeat_mechanism, seed, repeat_gate, repeat_floor)
        if self.repeat is not None and padding != "masked":
            raise ValueError(f"A repeat mechanism needs padding='masked'. Received: padding={padding!r}")

    def call(self, inputs, candidates_t=None, scoring_mode="train", training=None):
        """Scores `[batch, num_items]`.

        Args:
          inputs: the dict described above.
          candidates_t: optionally the `[hidden, num_items]` transpose of the
            candidate embeddings (`candidate_table_t()`) precomputed; exported
            serving signatures keep it as a frozen variable instead of
            transposing the table on every request. Training leaves it None.
          scoring_mode: how the scores are computed, one of
            `tagnn_tf.arguments.SCORING_MODES` (`train`, `serve`, `tflite`);
            every mode gives the same scores. `padding="official"` always
            scores as `train`.
          training: with `repeat_mechanism="boost"`, training scores leave
            the boost out. With a repeat mechanism `candidates_t` must be the
            whole catalogue (the training loss calls `explore_and_repeat`).
        """
        check_choice("scoring_mode", scoring_mode, SCORING_MODES)
        official_padding = self.padding == "official"
        missing = [k for k in MODEL_INPUTS + (("padded_length",) if official_padding else ()) if k not in inputs]
        if missing:
            raise ValueError(f"TAGNN inputs lack {missing}. Received keys: {sorted(inputs)}")
        nodes, counts = self._nodes(inputs)
        sink_counts = sink_node = None
        if official_padding:
            # Padded clicks per session, and the node vector of the padding
            # item 0 (a node without edges in the official code's graphs).
            sink_counts = ops.maximum(ops.cast(inputs["padded_length"], nodes.dtype) - ops.sum(counts, axis=1), 0.0)
            no_edges = ops.zeros((1, 1, 1), nodes.dtype)
            sink_node = self.gnn(self.embedding(ops.zeros((1, 1), "int32")), no_edges, no_edges)[0, 0]
        session = self.readout(nodes, counts, inputs["last_node"], sink_counts, sink_node)
        if candidates_t is None:
            candidates_t = self.candidate_table_t()
        scores = self._explore_scores(nodes, counts, session, candidates_t, scoring_mode, sink_counts)
        return self.add_repeat(scores, inputs, nodes, session, training)

    def _explore_scores(self, nodes, counts, session, candidates_t, scoring_mode, sink_counts=None):
        """`[batch, C]` scores of the candidates `candidates_t` `[hidden, C]` without the repeat term."""
        if self.target_attention is None:
            return ops.matmul(session, candidates_t)
        return self.target_attention.scores(nodes, counts, session, candidates_t, scoring_mode, sink_counts)

    def explore_and_repeat(self, inputs, candidates_t, training=None):
        """The two parts of the repeat-explore mixture, for its training loss (`training.sampled_softmax.
        repeat_explore_loss`).

        Args:
          inputs: as `call` (`padding="masked"`).
          candidates_t: `[hidden, C]` candidates shared by the batch (sampled training), or the whole
            catalogue's `candidate_table_t()`.

        Returns:
          (`[batch, C]` explore scores of the candidates, the repeat layer's
          (gate `[batch]`, node logits `[batch, U]`)).
        """
        nodes, counts = self._nodes(inputs)
        session = self.readout(nodes, counts, inputs["last_node"])
        shared = self._explore_scores(nodes, counts, session, candidates_t, "train")
        return shared, self.repeat_scores(inputs, nodes, session)

    def example_inputs(self) -> dict:
        return example_inputs(padded_length=3 if self.padding == "official" else 0)

    def own_item_scores(self, inputs, nodes, session):
        """`[batch, U]` explore scores (eq. 10-11) of each session node's item, the target term included."""
        own = self.candidate_vectors(inputs["items"])  # [batch, U, d]
        scores = ops.einsum("bd,bud->bu", session, own)
        if self.target_attention is not None:
            scores = scores + self.target_attention.per_session(nodes, ops.cast(inputs["node_counts"], nodes.dtype),
                                                                own)
        return scores

    def rerank(self, inputs, num_candidates: int, candidates_t=None, clusters=None):
        """Retrieve, then rerank: the exact scores of each session's `num_candidates` best by the base score.

        The score splits into `s_t^T v_t = (session part) . v_t + (target term)_t`
        (eq. 10-11): the first part is one `[batch, d] x [d, N]` GEMM; the
        target term (eq. 6-7, the costly `[T, N]` part) is computed for the
        top `num_candidates` columns of the first part only. With
        `num_candidates = N` this is the exact model; models without target
        attention (`variant` other than `tagnn`) are exact for any K.

        Args:
          inputs: as `call` (`padding="masked"` models only).
          num_candidates: K (python int), at most `num_items`.
          candidates_t: optional precomputed `candidate_table_t()`.
          clusters: optional `(centroids_t [d, C], members [C, M], probe)`
            (`tagnn_tf.retrieval.item_clusters`): retrieve among the members
            of each session's `probe` best clusters instead of all N items
            (approximate; a slot left without a member scores -inf).

        Returns:
          (columns int32 `[batch, K']`, scores `[batch, K']`): each session's
          K candidates (score columns, by decreasing base score) and their
          exact scores. With a repeat mechanism K' = K + U: the session's U
          node items follow (always candidates; padding nodes and items
          already among the K score `PADDING_LOGIT`). The mixture's
          normaliser over the catalogue (`repeat_explore`) is then estimated
          (exact for K = N).
        """
        if self.padding != "masked":
            raise ValueError(f"rerank needs padding='masked'. Received: padding={self.padding!r}")
        if not 1 <= num_candidates <= self.num_items:
            raise ValueError(f"`num_candidates` must be in [1, num_items={self.num_items}]. "
                             f"Received: num_candidates={num_candidates}")
        nodes, counts = self._nodes(inputs)
        session = self.readout(nodes, counts, inputs["last_node"])
        full = None
        if clusters is not None:
            from tagnn_tf.retrieval.item_clusters import retrieve

            centroids_t, members, probe = clusters
            base, columns = retrieve(session, centroids_t, members, self.candidate_vectors, self.num_items,
                                     probe, num_candidates)
        else:
            if candidates_t is None:
                candidates_t = self.candidate_table_t()
            full = ops.matmul(session, candidates_t)
            base, columns = ops.top_k(full, num_candidates)
        repeat = None
        if self.repeat_active():
            # The session's own items are always candidates: appended after
            # the K retrieved, a copy of a retrieved one scoring PADDING_LOGIT.
            own = item_columns(inputs["items"])  # [batch, U], -1 = padding
            copy = ops.logical_or(ops.any(ops.equal(ops.expand_dims(own, 2), ops.expand_dims(columns, 1)), axis=2),
                                  own < 0)
            own_base = ops.einsum("bd,bud->bu", session, self.candidate_vectors(inputs["items"]))
            columns = ops.concatenate([columns, ops.maximum(own, 0)], axis=1)
            base = ops.concatenate([base, own_base], axis=1)
        scores = base
        if self.target_attention is not None:
            rows = item_ids.column_to_id(ops.minimum(columns, self.num_items - 1))  # cluster padding: any real row
            candidates = self.candidate_vectors(rows)  # [batch, K, d]
            scores = base + self.target_attention.per_session(nodes, counts, candidates)
        if self.repeat_active():  # the appended columns hold the session items' explore scores
            repeat = self.repeat_scores(inputs, nodes, session, scores[:, num_candidates:])
        if repeat is None:
            return columns, scores
        if self.repeat_mechanism == "boost":
            scores = scores + node_values_at(columns, inputs["items"], repeat, 0.0)
        else:
            retrieved = slice(0, num_candidates)
            # logsumexp of the explore scores over the catalogue: exact over
            # the base scores, shifted by what the target term adds among the
            # K retrieved (exact when K = N); with clusters, over the candidates.
            if full is None:
                normaliser = ops.logsumexp(scores, axis=1)
            else:
                normaliser = (ops.logsumexp(full, axis=1) + ops.logsumexp(scores[:, retrieved], axis=1)
                              - ops.logsumexp(base[:, retrieved], axis=1))
            scores = mixture_log_scores_at(scores, columns, inputs["items"], *self.with_floor(repeat, inputs),
                                           normaliser, own_explore=scores[:, num_candidates:])
        return columns, ops.concatenate([scores[:, :num_candidates],
                                         ops.where(copy, PADDING_LOGIT, scores[:, num_candidates:])], axis=1)

    def candidate_embeddings(self):
        """The `[N + 1, hidden]` item table, each row scaled to length `item_norm_scale` when that is > 0."""
        return self._as_candidates(self.embedding.embeddings)

    def candidate_vectors(self, ids):
        """`[..., hidden]` rows `ids` of `candidate_embeddings()`, normalising those rows only."""
        return self._as_candidates(gather_rows(self.embedding.embeddings, ids))

    def _as_candidates(self, vectors):
        """Item vectors `[..., hidden]` as candidates: as learned, or of length `item_norm_scale` when > 0."""
        return unit_vectors(vectors, self.item_norm_scale) if self.item_norm_scale else vectors

    def _nodes(self, inputs):
        """(node vectors after the GNN `[batch, U, hidden]`, click counts `[batch, U]`)."""
        vectors = self.embedding(inputs["items"])  # [batch, U, hidden]
        if self.item_norm_scale:
            vectors = unit_vectors(vectors)
        nodes = self.gnn(vectors, inputs["adj_in"], inputs["adj_out"])
        return nodes, ops.cast(inputs["node_counts"], nodes.dtype)

    # Constructor arguments that shape the weights a warm start copies (padding and the repeat
    # mechanism do not: a run may start from one with another mechanism, its repeat layer fresh;
    # item vectors learned to be read normalised are not the same weights as raw ones).
    WEIGHT_FIELDS = ("hidden_size", "gnn_steps", "variant", "readout", "global_attention", "item_norm_scale")

    def warm_start_from(self, old, rows, old_rows) -> None:
        """Copies the trained TAGNN `old` into this one: the gated graph, readout and target attention,
        the repeat layer when both have the same `repeat_mechanism` (`warm_start_repeat`), and the embedding
        rows `old_rows` into `rows` (int arrays; every other row keeps its fresh initialisation).

        Raises:
          InputError: `old` is not a TAGNN of the same `WEIGHT_FIELDS` (the message names them).
        """
        if not isinstance(old, TAGNN):
            raise InputError(f"--warm_start_from is implemented for TAGNN and SR-GNN runs. Received: a "
                             f"{type(old).__name__} run for a {type(self).__name__}")
        new_config, old_config = self.get_config(), old.get_config()
        differing = [name for name in self.WEIGHT_FIELDS if new_config[name] != old_config[name]]
        if differing:
            raise InputError(f"its model differs in {differing} ("
                             f"{', '.join(f'{n}={old_config[n]!r} vs {new_config[n]!r}' for n in differing)})")
        pairs = [(self.gnn, old.gnn), (self.readout, old.readout), (self.target_attention, old.target_attention)]
        self.warm_start_repeat(old)
        for layer, old_layer in pairs:
            if layer is not None:
                layer.set_weights(old_layer.get_weights())
        table = np.array(self.embedding.embeddings)
        if len(rows):
            table[rows] = np.array(old.embedding.embeddings)[old_rows]
        self.embedding.embeddings.assign(table)

    def get_config(self):
        config = super().get_config()
        config.update({"gnn_steps": self.gnn_steps, "variant": self.variant, "readout": self.readout_form,
                       "global_attention": self.global_attention, "padding": self.padding,
                       "item_norm_scale": self.item_norm_scale})
        return config

