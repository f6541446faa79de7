"""The paper's neural baselines that read a session as a click sequence: GRU4Rec, NARM, STAMP, BPR-MF, FPMC.

Each encodes a session into one vector and scores every item by a dot
product with its candidate vector (eq. 11's form without the target term):
`scores = session [batch, w] x candidates_t [w, N]`. They share TAGNN's
inputs (the `SessionPreprocessor` dict, with `with_click_alias=True`), its
training loop, metrics and serving signatures (`SessionRecommender`): the
same `call(inputs, candidates_t=None, scoring_mode=...)` and
`candidate_table_t()`.

Trained, like TAGNN, with softmax cross-entropy over the whole catalogue on
every prefix of every session (`TrainConfig.loss="bpr"` gives BPR-MF and
FPMC their own pairwise loss). The original GRU4Rec trains session-parallel
mini-batches with TOP1/BPR losses; here it is the same network trained as
the other models are.
"""

from __future__ import annotations

import keras
from keras import ops

from tagnn_tf import item_ids
from tagnn_tf.arguments import SCORING_MODES, check_choice
from tagnn_tf.layers.initializers import uniform_init
from tagnn_tf.layers.tensor_ops import RowGatherEmbedding
from tagnn_tf.models.catalogue_scorer import CatalogueScorer, example_inputs

SEQUENCE_INPUTS = ("items", "alias", "click_mask")


class SequenceRecommender(CatalogueScorer):
    """Base class: embeddings, click-sequence inputs and dot-product scoring.

    Subclasses implement `encode(clicks, mask, training) -> [batch, w]`, the
    session vector, and may widen the candidate vectors (`candidate_width`).

    With a repeat mechanism (`repeat_mechanism`, `tagnn_tf.layers.
    repeat_scores`) the session's items get a repeat score from their
    embeddings (the node vectors) and the session vector.

    Inputs: `items` int `[batch, U]`, `alias` int `[batch, L]` (node of each
    click), `click_mask` float `[batch, L]` (1 = a click; right-padded).
    Output: logits `[batch, num_items]` (columns as in `tagnn_tf.item_ids`).
    """

    # The preprocessor must add `alias` and `click_mask` for these models.
    needs_click_alias = True
    # Served and evaluated like TAGNN with its padding masked.
    padding = "masked"

    def __init__(self, num_items: int, hidden_size: int = 100, seed=None, embedding_width=None,
                 repeat_mechanism: str = "none", repeat_gate: str = "session", repeat_floor: str = "none",
                 **kwargs):
        super().__init__(num_items, hidden_size, seed, **kwargs)
        self.embedding = RowGatherEmbedding(num_items + item_ids.FIRST_ITEM_ID, embedding_width or hidden_size,
                                                embeddings_initializer=uniform_init(hidden_size, seed),
                                                name="item_embedding")
        self._init_repeat(repeat_mechanism, seed, repeat_gate, repeat_floor)

    def clicks(self, inputs):
        """(item ids `[batch, L]` in click order, 0 where padded; mask float `[batch, L]`)."""
        missing = [k for k in SEQUENCE_INPUTS if k not in inputs]
        if missing:
            raise ValueError(f"{type(self).__name__} inputs lack {missing} (build the preprocessor with "
                             f"with_click_alias=True). Received keys: {sorted(inputs)}")
        mask = ops.cast(inputs["click_mask"], "float32")
        ids = ops.take_along_axis(ops.cast(inputs["items"], "int32"), ops.cast(inputs["alias"], "int32"), axis=1)
        return ids * ops.cast(mask, "int32"), mask

    def call(self, inputs, candidates_t=None, scoring_mode="train", training=None):
        check_choice("scoring_mode", scoring_mode, SCORING_MODES)  # one GEMM in every mode
        ids, mask = self.clicks(inputs)
        session = self.encode(ids, mask, training)
        if candidates_t is None:
            candidates_t = self.candidate_table_t()
        scores = ops.matmul(session, candidates_t)
        if not self.repeat_active(training):
            return scores
        return self.add_repeat(scores, inputs, self.embedding(inputs["items"]), session, training)

    def explore_and_repeat(self, inputs, candidates_t, training=None):
        """(`[batch, C]` explore scores of the candidates `candidates_t`, the repeat layer's output); as
        `TAGNN.explore_and_repeat`."""
        ids, mask = self.clicks(inputs)
        session = self.encode(ids, mask, training)
        return ops.matmul(session, candidates_t), self.repeat_scores(inputs, self.embedding(inputs["items"]), session)

    def example_inputs(self) -> dict:
        return example_inputs(with_click_alias=True)

    def encode(self, ids, mask, training=None):
        raise NotImplementedError


# The GRUs run without a mask: clicks are right-padded, so the state at a real
# click never depends on the padding after it, and only those states are read
# (a Keras mask would also bring boolean ops that oneDNN runs only with AVX-512).


def _last_click(values, mask):
    """`values[b, last real position of b]`: `[batch, d]` from `[batch, L, d]`.

    A one-hot weighted sum rather than a gather: Keras' `take_along_axis`
    brings int64 index arithmetic that oneDNN reports as unsupported on CPUs
    without AVX-512 (a line of error-looking noise per process).
    """
    last = ops.cast(ops.sum(mask, axis=1), "int32") - 1
    pick = ops.one_hot(ops.maximum(last, 0), ops.shape(mask)[1], dtype=values.dtype)
    return ops.sum(values * ops.expand_dims(pick, -1), axis=1)


def _weighted_sum(weights, values, mask):
    """`sum_j weights[b, j] values[b, j]` over real clicks: `[batch, d]`."""
    return ops.sum(ops.expand_dims(weights * mask, -1) * values, axis=1)


@keras.saving.register_keras_serializable(package="tagnn_tf")
class GRU4Rec(SequenceRecommender):
    """GRU4Rec (Hidasi et al., ICLR 2016): a GRU over the clicks; its last state `[batch, d]` is the session."""

    def __init__(self, num_items: int, hidden_size: int = 100, dropout: float = 0.0, seed=None, **kwargs):
        super().__init__(num_items, hidden_size, seed, **kwargs)
        self.dropout = dropout
        self.gru = keras.layers.GRU(hidden_size, return_sequences=True, seed=seed, name="gru")
        self.drop = keras.layers.Dropout(dropout, seed=seed)

    def encode(self, ids, mask, training=None):
        states = self.gru(self.drop(self.embedding(ids), training=training))
        return _last_click(states, mask)

    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="tagnn_tf")
class NARM(SequenceRecommender):
    """NARM (Li et al., CIKM 2017).

    GRU states h_j `[batch, L, d]`; global encoder c_g = h_t (last click);
    local encoder c_l = sum_j a_j h_j, `a_j = v^T sigmoid(A1 h_t + A2 h_j)`;
    scores `emb_i^T B [c_g; c_l]` with B `[d, 2d]`. Dropout 0.25 on the
    embeddings and 0.5 on `[c_g; c_l]` as in the paper.
    """

    def __init__(self, num_items: int, hidden_size: int = 100, embedding_dropout: float = 0.25,
                 context_dropout: float = 0.5, seed=None, **kwargs):
        super().__init__(num_items, hidden_size, seed, **kwargs)
        self.embedding_dropout, self.context_dropout = embedding_dropout, context_dropout
        init = uniform_init(hidden_size, seed)
        self.gru = keras.layers.GRU(hidden_size, return_sequences=True, seed=seed, name="gru")
        self.a1 = keras.layers.Dense(hidden_size, use_bias=False, kernel_initializer=init, name="a1")
        self.a2 = keras.layers.Dense(hidden_size, use_bias=False, kernel_initializer=init, name="a2")
        self.v = keras.layers.Dense(1, use_bias=False, kernel_initializer=init, name="v")
        self.b = keras.layers.Dense(hidden_size, use_bias=False, kernel_initializer=init, name="b")
        self.drop_embedding = keras.layers.Dropout(embedding_dropout, seed=seed)
        self.drop_context = keras.layers.Dropout(context_dropout, seed=seed)

    def encode(self, ids, mask, training=None):
        states = self.gru(self.drop_embedding(self.embedding(ids), training=training))
        last = _last_click(states, mask)  # c_g
        weights = self.v(ops.sigmoid(ops.expand_dims(self.a1(last), 1) + self.a2(states)))[..., 0]
        local = _weighted_sum(weights, states, mask)  # c_l
        return self.b(self.drop_context(ops.concatenate([last, local], axis=-1), training=training))

    def get_config(self):
        return {**super().get_config(), "embedding_dropout": self.embedding_dropout,
                "context_dropout": self.context_dropout}


@keras.saving.register_keras_serializable(package="tagnn_tf")
class STAMP(SequenceRecommender):
    """STAMP (Liu et al., KDD 2018).

    m_s = mean of the click embeddings x_j, x_t the last; attention
    `a_j = w0^T sigmoid(W1 x_j + W2 x_t + W3 m_s + b_a)`, m_a = sum_j a_j x_j;
    `h_s = tanh(Ws m_a + bs)`, `h_t = tanh(Wt x_t + bt)`; the session vector
    is `h_s * h_t` (the trilinear product's first two factors; the paper's
    sigmoid before the softmax is left out, as in RecBole).
    """

    def __init__(self, num_items: int, hidden_size: int = 100, seed=None, **kwargs):
        super().__init__(num_items, hidden_size, seed, **kwargs)
        init = uniform_init(hidden_size, seed)

        def dense(name, bias=False, activation=None, units=hidden_size):
            return keras.layers.Dense(units, use_bias=bias, activation=activation, kernel_initializer=init,
                                      bias_initializer="zeros", name=name)

        self.w1, self.w2, self.w3 = dense("w1"), dense("w2"), dense("w3", bias=True)
        self.w0 = dense("w0", units=1)
        self.mlp_s, self.mlp_t = dense("mlp_s", True, "tanh"), dense("mlp_t", True, "tanh")

    def encode(self, ids, mask, training=None):
        x = self.embedding(ids)
        clicks = ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)
        m_s = ops.sum(x * ops.expand_dims(mask, -1), axis=1) / clicks
        x_t = _last_click(x, mask)
        weights = self.w0(ops.sigmoid(self.w1(x) + ops.expand_dims(self.w2(x_t) + self.w3(m_s), 1)))[..., 0]
        m_a = _weighted_sum(weights, x, mask)
        return self.mlp_s(m_a) * self.mlp_t(x_t)


@keras.saving.register_keras_serializable(package="tagnn_tf")
class BPRMF(SequenceRecommender):
    """BPR-MF (Rendle et al., UAI 2009) for sessions: the session is the mean of its items' factors."""

    def encode(self, ids, mask, training=None):
        x = self.embedding(ids)
        return ops.sum(x * ops.expand_dims(mask, -1), axis=1) / ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)


@keras.saving.register_keras_serializable(package="tagnn_tf")
class FPMC(SequenceRecommender):
    """FPMC (Rendle et al., WWW 2010) for sessions, without users.

    `score(i) = <mean_{j in s} U_j, V_i> + <L_last, W_i>`: a factorised
    "user" taste (the session's items, as BPR-MF) plus the factorised Markov
    chain from the last click. As one product: the session vector
    `[mean U; L_last]` `[batch, 2d]` times the candidate table `[V; W]`
    `[2d, N]`. `self.embedding` holds U and L side by side, `candidates` V and W.
    """

    def __init__(self, num_items: int, hidden_size: int = 100, seed=None, **kwargs):
        super().__init__(num_items, hidden_size, seed, embedding_width=2 * hidden_size, **kwargs)
        self.candidates = RowGatherEmbedding(num_items + item_ids.FIRST_ITEM_ID, 2 * hidden_size,
                                                 embeddings_initializer=uniform_init(hidden_size, seed),
                                                 name="candidate_embedding")
        self.candidates.build((None,))

    def encode(self, ids, mask, training=None):
        x = self.embedding(ids)
        d = self.hidden_size
        taste = ops.sum(x[..., :d] * ops.expand_dims(mask, -1), axis=1) / ops.maximum(
            ops.sum(mask, axis=1, keepdims=True), 1.0)
        return ops.concatenate([taste, _last_click(x[..., d:], mask)], axis=-1)

    def candidate_embeddings(self):
        return self.candidates.embeddings
