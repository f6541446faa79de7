"""Scores for the items already in the session: a learned repeat mechanism and the post-hoc boost.

`RepeatExplore` (`--repeat_mechanism=repeat_explore`) is RepeatNet's
repeat-explore mixture (Ren et al., AAAI 2019) on top of a catalogue scorer.
With `z [batch, N]` the model's own ("explore") scores:

    φ_u  = [log c_u, log(1 + a_u), 1[u is the last click]]   (c: clicks, a: clicks since u's last click)
    h_u  = tanh(W_n x_u + W_s s + W_f φ_u + b_h)              `[batch, U, d]`
    ρ_u  = v^T h_u + w_φ^T φ_u + b_ρ + α z_{u}                repeat logit of node u
    g    = w_g^T s + b_g [+ w_r^T r]                          the session's repeat gate logit
    P(i) = sigmoid(g) softmax_u(ρ)[u(i)]                   for an item i of the session (repeat mode)
    P(i) = sigmoid(-g) exp(z_i) / sum_{j not in S} exp(z_j) for the others (explore mode)

with `x_u` the node vector (TAGNN: after the gated graph), `s` the session
vector, `z_{u}` the explore score of node u's item (TAGNN: with its own
target attention), `α` a learned scale (1 at first) and `u(i)` the node of
item i (the repeat term is 0 for items outside the session; padding nodes take
no part in the softmax over nodes). The layer reads `x`, `s` and `z` without
passing gradients back, so the explore part trains exactly as the plain model.
With `gate="history"` (`--repeat_gate=history`) the gate also reads the
session's repeat history `r = [log n, 1 - |S| / n]` (`history_features`: n
clicks on |S| distinct items, so the second term is the share of clicks that
went back to an earlier item; `w_r` starts at 0): a session that keeps
returning to its items is told from one that does not, which the session
vector, a weighted sum of node vectors, hardly encodes (measured:
docs/repeat_heavy_logs.md).
With `α z_{u}` the repeat part starts from the explore part's own order of the
session's items and nests a learned per-session boost: `ρ_u = z_{u} + w_φ^T φ_u`
makes every session item's probability `exp(z_i + w_φ^T φ_u)` times one
per-session factor, the post-hoc boost with a learned, gated weight.

As in RepeatNet, explore mode scores the items outside the session S and repeat
mode the session's own (a distribution over all items, summing to 1). The
model outputs `log P` `[batch, N]` (`mixture_log_scores`): for an item outside
the session a per-session shift of its explore score, so the explore part ranks
them exactly as the plain model; only the session's items move. The plain
model is one member of the family: with `sigmoid(g)` its own probability of
the session's items and `ρ_u = z_{u}`, `log P` is its log-softmax (tested).
Measured on Diginetica and Yoochoose 1/64 with the same trained weights, this
form beat the plain model on HR@20 and MRR@20 on both, where adding the
repeat probability to the explore part's own probability of the session's
items (`sigmoid(g) P_repeat + sigmoid(-g) softmax(z)`) lost MRR@20 on
Yoochoose (docs/repeat_heavy_logs.md).

With `--repeat_floor=validated` the repeat distribution gets a floor when the
model scores (not in its training loss): `P_repeat(u) = (1 - e) softmax_u(ρ)
+ e c_u / n` (n: the session's clicks), with a non-trainable `e` (0 at first)
that the trainer picks on validation after each epoch from `REPEAT_FLOORS`.
The learned repeat logits can push a session item below the explore part's
catalogue; the floor keeps every session item at least at `sigmoid(g) e c_u / n`.
The floor only moves the session's items: `floor_scorer` computes it from
the model's floor-0 scores, `sigmoid(g)` being the sum of their probabilities.

Training (`training.sampled_softmax.repeat_explore_loss`) gives each part its
own loss: the explore scores the plain model's (full or sampled) softmax
cross-entropy, the gate the binary cross-entropy of "the label is a session
item" (so `sigmoid(g)` estimates that probability), the repeat logits the
cross-entropy over the session's nodes on repeat labels.

`RepeatBoost` (`--repeat_mechanism=boost`) is the post-hoc baseline, additive
in logit space: `z_i + a log(1 + c_u)` for the session's items, with a
non-trainable weight `a` (0 while training; the trainer picks it on validation
after each epoch from `BOOST_WEIGHTS`).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from tagnn_tf import item_ids
from tagnn_tf.arguments import REPEAT_GATES, check_choice, check_positive
from tagnn_tf.layers.initializers import uniform_init
from tagnn_tf.layers.tensor_ops import matmul_last

# The boost weights `a` the trainer tries on validation (`--repeat_mechanism=boost`).
BOOST_WEIGHTS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
# The repeat floors `e` the trainer tries on validation (`--repeat_floor=validated`).
REPEAT_FLOORS = (0.0, 0.03, 0.1, 0.3, 0.5)
NUM_NODE_FEATURES = 3
NUM_HISTORY_FEATURES = 2
# Logit of padding nodes in the softmax over a session's nodes (exp underflows to 0).
PADDING_LOGIT = -1e9


def node_features(node_counts, node_recency, last_node):
    """φ `[batch, U, 3]`: log clicks, log(1 + clicks since the node's last click), is-last-click; 0 at padding.

    Args:
      node_counts: `[batch, U]` clicks per node, 0 for padding.
      node_recency: `[batch, U]` clicks after the node's last click.
      last_node: int `[batch]` node of the last click.
    """
    counts = ops.cast(node_counts, "float32")
    real = ops.cast(counts > 0, "float32")
    is_last = ops.one_hot(ops.cast(last_node, "int32"), ops.shape(counts)[1], dtype="float32") * real
    return ops.stack([ops.log(ops.maximum(counts, 1.0)), ops.log(1.0 + ops.cast(node_recency, "float32")) * real,
                      is_last], axis=-1)


def history_features(node_counts):
    """r `[batch, 2]`: log(clicks), and the share of clicks on an item clicked before in the session
    (1 - distinct items / clicks); 0 and 0 for a session without clicks.

    Args:
      node_counts: `[batch, U]` clicks per node, 0 for padding.
    """
    counts = ops.cast(node_counts, "float32")
    clicks = ops.sum(counts, axis=1)
    distinct = ops.sum(ops.cast(counts > 0, "float32"), axis=1)
    return ops.stack([ops.log(ops.maximum(clicks, 1.0)), (clicks - distinct) / ops.maximum(clicks, 1.0)], axis=-1)


@keras.saving.register_keras_serializable(package="tagnn_tf")
class RepeatExplore(keras.layers.Layer):
    """The repeat-explore mixture's gate and repeat logits (module docstring).

    Args:
      hidden_size: d, width of the hidden layer `h_u`.
      seed: optional initializer seed.
      gate: what the gate reads, one of `tagnn_tf.arguments.REPEAT_GATES`:
        `session` (RepeatNet: the session vector) or `history` (also the
        session's repeat history `history_features`).

    Call args:
      nodes: `[batch, U, node_width]` node vectors.
      session: `[batch, session_width]` session vectors.
      node_counts: `[batch, U]` clicks per node, 0 for padding.
      node_recency: `[batch, U]` clicks after each node's last click.
      last_node: int `[batch]`.
      own_scores: optional `[batch, U]` explore scores z of each node's item
        (0 if omitted).

    Returns:
      (gate logit g `[batch]`, repeat logits ρ `[batch, U]`, `PADDING_LOGIT` at padding).
    """

    def __init__(self, hidden_size: int, seed=None, gate: str = "session", **kwargs):
        super().__init__(**kwargs)
        check_positive("hidden_size", hidden_size)
        check_choice("gate", gate, REPEAT_GATES)
        self.hidden_size = hidden_size
        self.seed = seed
        self.gate = gate

    def build(self, nodes_shape, session_shape, node_counts_shape=None, node_recency_shape=None,
              last_node_shape=None, own_scores_shape=None):
        d = self.hidden_size
        init = uniform_init(d, self.seed)
        self.node_kernel = self.add_weight(name="node_kernel", shape=(nodes_shape[-1], d), initializer=init)
        self.session_kernel = self.add_weight(name="session_kernel", shape=(session_shape[-1], d), initializer=init)
        self.feature_kernel = self.add_weight(name="feature_kernel", shape=(NUM_NODE_FEATURES, d), initializer=init)
        self.hidden_bias = self.add_weight(name="hidden_bias", shape=(d,), initializer="zeros")
        self.score_vector = self.add_weight(name="score_vector", shape=(d,), initializer=init)
        self.feature_weights = self.add_weight(name="feature_weights", shape=(NUM_NODE_FEATURES,),
                                               initializer="zeros")
        self.gate_vector = self.add_weight(name="gate_vector", shape=(session_shape[-1],), initializer=init)
        self.gate_bias = self.add_weight(name="gate_bias", shape=(), initializer="zeros")
        self.explore_scale = self.add_weight(name="explore_scale", shape=(), initializer="ones")
        if self.gate == "history":
            self.history_weights = self.add_weight(name="history_weights", shape=(NUM_HISTORY_FEATURES,),
                                                   initializer="zeros")
        # Created last: a model saved before the floor existed loads with floor 0 (`load_own_variables`).
        self.floor = self.add_weight(name="floor", shape=(), initializer="zeros", trainable=False)

    def load_own_variables(self, store):
        variables = self.trainable_weights + self.non_trainable_weights  # Keras' order: the floor last
        if len(store.keys()) != len(variables) - 1:
            return super().load_own_variables(store)
        for i, variable in enumerate(variables[:-1]):  # saved before the floor existed
            variable.assign(store[str(i)])
        self.floor.assign(0.0)

    def floored(self, node_logits, node_counts):
        """`[batch, U]` the repeat logits with the floor (`floored_node_logits` at this layer's `floor`)."""
        return floored_node_logits(node_logits, node_counts, self.floor)

    def call(self, nodes, session, node_counts, node_recency, last_node, own_scores=None):
        # 2-D GEMMs and multiply-sums, not einsums: oneDNN runs an einsum or a 3-D x 2-D matmul of these small,
        # request-shaped operands as a batched GEMM that costs more than the rest of the layer at serving's
        # batch of 1 (benchmarks/README.md, "What the repeat mechanism costs").
        features = node_features(node_counts, node_recency, last_node)  # [b, U, 3]
        node_part = matmul_last(ops.concatenate([nodes, ops.cast(features, nodes.dtype)], axis=-1),
                                ops.concatenate([self.node_kernel, self.feature_kernel], axis=0))  # W_n x_u + W_f φ_u
        hidden = ops.tanh(node_part + ops.expand_dims(ops.matmul(session, self.session_kernel) + self.hidden_bias, 1))
        logits = ops.sum(hidden * self.score_vector, axis=-1) + ops.sum(features * self.feature_weights, axis=-1)
        if own_scores is not None:
            logits = logits + self.explore_scale * ops.stop_gradient(ops.cast(own_scores, logits.dtype))
        gate = ops.sum(session * self.gate_vector, axis=-1) + self.gate_bias
        if self.gate == "history":
            gate = gate + ops.sum(history_features(node_counts) * self.history_weights, axis=-1)
        return gate, ops.where(ops.cast(node_counts, "float32") > 0, logits, PADDING_LOGIT)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_size": self.hidden_size, "seed": self.seed, "gate": self.gate})
        return config


def floored_node_logits(node_logits, node_counts, floor):
    """`[batch, U]` `log((1 - e) softmax_u(ρ) + e c_u / n)` (a log distribution over the session's nodes,
    `PADDING_LOGIT` at padding); exactly `node_logits` when `e = 0`.

    Args:
      node_logits: ρ `[batch, U]`, `PADDING_LOGIT` at padding.
      node_counts: `[batch, U]` clicks per node c_u, 0 for padding.
      floor: e in [0, 1), a scalar.
    """
    floor = ops.cast(floor, "float32")
    # exp(log_softmax): oneDNN's softmax of a `[1, U]` request costs several times more.
    mixed = (1.0 - floor) * ops.exp(ops.log_softmax(node_logits, axis=1)) + floor * click_shares(node_counts)
    floored = ops.where(ops.cast(node_counts, "float32") > 0, ops.log(ops.maximum(mixed, 1e-30)), PADDING_LOGIT)
    return ops.where(floor > 0.0, floored, node_logits)


def click_shares(node_counts):
    """`[batch, U]` c_u / n: each node's share of the session's clicks (0 at padding)."""
    counts = ops.cast(node_counts, "float32")
    return counts / ops.maximum(ops.sum(counts, axis=1, keepdims=True), 1.0)


def floor_scorer(scores, items, node_counts):
    """A function `e -> [batch, N]`: the repeat-explore model's floor-0 log scores `scores` with the floor `e` (a
    Python float): at the session's items `log((1 - e) P(i) + e G c_u / n)` with `G = sum_u P(u(i))`
    (= sigmoid(g)), elsewhere unchanged; `scores` itself for `e = 0`. Equal to the model's scores with
    `floor = e` (tested). The parts that do not depend on `e` are computed once, so the trainer scores every
    floor of `REPEAT_FLOORS` from one forward pass.

    Args:
      scores: `[batch, N]` `mixture_log_scores` with floor 0.
      items, node_counts: `[batch, U]` the session's node items (0 = padding) and clicks per node.
    """
    real = ops.cast(items, "int32") > 0
    at_nodes = ops.where(real, tf.gather(scores, ops.maximum(item_columns(items), 0), axis=1, batch_dims=1),
                         PADDING_LOGIT)
    node_probabilities = ops.exp(at_nodes)  # 0 at padding
    floor_unit = ops.sum(node_probabilities, axis=1, keepdims=True) * click_shares(node_counts)  # G c_u / n

    def with_floor(floor: float):
        if floor == 0.0:
            return scores
        mixed = ops.log(ops.maximum((1.0 - floor) * node_probabilities + floor * floor_unit, 1e-30))
        return scores + scatter_to_columns(ops.where(real, mixed - at_nodes, 0.0), items, ops.shape(scores)[1])

    return with_floor


@keras.saving.register_keras_serializable(package="tagnn_tf")
class RepeatBoost(keras.layers.Layer):
    """Post-hoc boost `a log(1 + c_u)` `[batch, U]` of each node, with a non-trainable weight `a` (0 at first).

    Call args as `RepeatExplore` (only `node_counts` is read).
    """

    def build(self, *shapes, **named_shapes):
        self.boost = self.add_weight(name="boost", shape=(), initializer="zeros", trainable=False)

    def call(self, nodes, session, node_counts, node_recency, last_node, own_scores=None):
        return self.boost * self.unit_scores(node_counts)

    @staticmethod
    def unit_scores(node_counts):
        """`log(1 + c_u)` `[batch, U]`: the boost of weight 1."""
        return ops.log(1.0 + ops.cast(node_counts, "float32"))


def log_sigmoid(x):
    """`log sigmoid(x)` with TFLite builtins only (`min(x, 0) - log(1 + exp(-|x|))`)."""
    return ops.minimum(x, 0.0) - ops.log(1.0 + ops.exp(-ops.abs(x)))


def repeat_log_probabilities(gate, node_logits):
    """(log sigmoid(-g) `[batch]`, log (sigmoid(g) softmax_u(ρ)) `[batch, U]`): the mixture's two weights."""
    log_explore_weight = log_sigmoid(-gate)
    # log sigmoid(g) = log sigmoid(-g) + g: one log-sigmoid for both weights.
    return log_explore_weight, ops.expand_dims(log_explore_weight + gate, 1) + ops.log_softmax(node_logits, axis=1)


def mixture_log_scores(explore, items, gate, node_logits):
    """`log P [batch, N]` of the repeat-explore mixture (module docstring): `log sigmoid(g) +
    log softmax_u(ρ)` at the session's items, `log sigmoid(-g) + z_i - log sum_{j outside} exp(z_j)`
    at the others.

    The session's columns are overwritten, first with `PADDING_LOGIT` (so one
    fused log-softmax over the catalogue normalises over the items outside the
    session exactly), then with the repeat part. Only real nodes are written,
    so no column receives two values. At serving's batch of 1 this costs about
    half of a separate log-sum-exp over the catalogue with additive scatters
    (`benchmarks/README.md`, "What the repeat mechanism costs").

    Args:
      explore: z `[batch, N]` explore scores of the whole catalogue.
      items: int `[batch, U]` the session's node items (0 = padding).
      gate, node_logits: `RepeatExplore`'s outputs.
    """
    nodes = tf.where(ops.cast(items, "int32") > 0)  # [k, 2] (row, node) of the real nodes
    indices = ops.stack([ops.cast(nodes[:, 0], "int32"), tf.gather_nd(item_columns(items), nodes)], axis=1)
    outside = tf.tensor_scatter_nd_update(ops.cast(explore, "float32"), indices,
                                          ops.full(ops.shape(indices)[:1], PADDING_LOGIT, "float32"))
    log_explore_weight, log_repeat = repeat_log_probabilities(gate, node_logits)
    log_explore = ops.log_softmax(outside, axis=1) + ops.expand_dims(log_explore_weight, 1)
    return tf.tensor_scatter_nd_update(log_explore, indices, tf.gather_nd(log_repeat, nodes))


def mixture_log_scores_at(explore, columns, items, gate, node_logits, log_normaliser, own_explore):
    """`log P [batch, K]` of per-session candidates `columns` int `[batch, K]` (as `mixture_log_scores`).

    Args:
      explore: `[batch, K]` the candidates' explore scores.
      log_normaliser: `[batch]` `log sum_i exp(z_i)` over the catalogue (exact or estimated).
      own_explore: `[batch, U]` the explore scores of the session's node items.
    """
    real = ops.cast(items, "int32") > 0
    inside = ops.logsumexp(ops.where(real, own_explore, PADDING_LOGIT), axis=1)
    outside = log_normaliser + ops.log(ops.maximum(1.0 - ops.exp(inside - log_normaliser), 1e-30))
    log_explore_weight, log_repeat = repeat_log_probabilities(gate, node_logits)
    # Finite for cluster-retrieval slots without a member (explore score -inf).
    log_explore = ops.maximum(explore + ops.expand_dims(log_explore_weight - outside, 1), PADDING_LOGIT)
    in_session = node_values_at(columns, items, ops.ones_like(log_repeat), 0.0) > 0
    return ops.where(in_session, node_values_at(columns, items, log_repeat, PADDING_LOGIT), log_explore)


def node_values_at(columns, items, values, fill):
    """`[batch, K]`: for each candidate column the value `values [batch, U]` of the session node with
    that item, `fill` for items outside the session (a session's nodes are distinct items).

    Args:
      columns: int `[batch, K]` score columns.
      items: int `[batch, U]` the session's node items (0 = padding, matching no column).
      values: `[batch, U]`, each at least `fill`.
    """
    match = ops.equal(ops.expand_dims(ops.cast(columns, "int32"), 2), ops.expand_dims(item_columns(items), 1))
    return ops.max(ops.where(match, ops.expand_dims(ops.cast(values, "float32"), 1), fill), axis=2)


def item_columns(items):
    """int32 `[batch, U]` score column of each node's item (-1 for padding, which matches no column)."""
    return ops.cast(item_ids.id_to_column(ops.cast(items, "int32")), "int32")


def scatter_to_columns(repeat, items, num_items: int):
    """`[batch, N]`: `repeat [batch, U]` at the columns of the session's items, 0 elsewhere.

    A session's nodes are distinct items, so no column receives two values
    (padding nodes carry 0 and are sent to column 0, adding nothing).
    """
    batch, width = ops.shape(items)[0], ops.shape(items)[1]
    rows = ops.broadcast_to(ops.expand_dims(ops.arange(batch, dtype="int32"), 1), (batch, width))
    columns = ops.maximum(item_columns(items), 0)
    indices = ops.stack([rows, columns], axis=-1)
    return tf.scatter_nd(indices, ops.cast(repeat, "float32"), ops.stack([batch, num_items]))


def make_repeat_layer(mechanism: str, hidden_size: int, seed=None, gate: str = "session"):
    """The layer of `--repeat_mechanism` (None for `none`); `gate` (`--repeat_gate`) is `repeat_explore`'s."""
    if gate != "session" and mechanism != "repeat_explore":
        raise ValueError(f"`repeat_gate` is the repeat_explore mixture's. Received: repeat_gate={gate!r}, "
                         f"repeat_mechanism={mechanism!r}")
    if mechanism == "repeat_explore":
        return RepeatExplore(hidden_size, seed=seed, gate=gate, name="repeat_explore")
    if mechanism == "boost":
        return RepeatBoost(name="repeat_boost")
    return None
